# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The penny game
#
# **Question.** Twenty coins, four people, each flip takes one minute. Each person passes the
# coins on in batches of 20, 5 or 1. How long until the **first** coin is done (time to first
# value), and until the **last**?
#
# The room works it out by hand first: with batches of *b* coins, *N* = 20 coins and *S* = 4
# people, the first batch reaches the customer after every person has flipped it, **S × b**
# minutes; the last coin leaves when the last person has flipped all *N* coins, which they
# start once the first batch reaches them, after (S − 1) × b minutes: **(S − 1) × b + N**.
#
# | batch | first coin | last coin |
# |---|---|---|
# | 20 | 4 × 20 = 80 | 3 × 20 + 20 = 80 |
# | 5 | 4 × 5 = 20 | 3 × 5 + 20 = 35 |
# | 1 | 4 × 1 = 4 | 3 × 1 + 20 = 23 |
#
# The simulation below must give exactly these numbers (the game has no randomness).
#
# **How to change it:** `BATCHES`, `COINS` in the cell *Parameters*. The same on the command
# line: `vssim experiment=penny_game stream.steps.flip1.batch=5 ...` (experiments/penny_game/README.md).

# %%
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Image, Markdown, display

import vssim
from vssim.report import animate, figures
from vssim.scenarios.scenario import Scenario

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "configs" / "stream").is_dir())
OUT = ROOT / "outputs" / "notebooks" / "penny_game"
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## Parameters

# %%
BATCHES = [20, 5, 1]
COINS = 20

# %% [markdown]
# ## One scenario per batch size, built inline
#
# A scenario is a change to the stream: here `set steps.*.batch` on every step, and the number
# of coins in the backlog.

# %%
spec = vssim.load_stream(ROOT / "configs" / "stream" / "penny_game.yaml")
STEPS = len(spec.steps)
results = {}
for b in BATCHES:
    scenario = Scenario(f"batch_{b}", f"every person passes coins on in batches of {b}",
                        patch={"arrivals": {"count": COINS}},
                        transforms=({"op": "set", "path": "steps.*.batch", "value": b},))
    results[b] = vssim.simulate(scenario.apply(spec), horizon=None, warmup=0, replications=1, seed=1,
                                scenario=scenario.name, progress=False)

# %% [markdown]
# ## Time to first value and to last value

# %%
rows = []
for b, r in results.items():
    done = r.items["done"].to_numpy()
    m = r.summary["metrics"]
    rows.append({"batch": b, "first coin done": done.min(), "by hand: S × b": STEPS * b,
                 "last coin done": done.max(), "by hand: (S − 1) × b + N": (STEPS - 1) * b + COINS,
                 "mean lead time": m["lead_time"]["mean"], "flow efficiency": f"{m['flow_efficiency']['mean']:.1%}",
                 "busiest person busy": f"{max(p['utilization'] for p in r.summary['pools'].values()):.0%}"})
answer = pd.DataFrame(rows).set_index("batch")
answer

# %%
for b in BATCHES:
    first, last = answer.loc[b, "first coin done"], answer.loc[b, "last coin done"]
    assert first == STEPS * b, (b, first)
    assert last == (STEPS - 1) * b + COINS, (b, last)
if BATCHES == [20, 5, 1] and COINS == 20 and STEPS == 4:
    assert list(answer["first coin done"]) == [80, 20, 4]
    assert list(answer["last coin done"]) == [80, 35, 23]
print("the simulation matches the arithmetic exactly for every batch size:",
      ", ".join(f"batch {b}: first {answer.loc[b, 'first coin done']:g}, last {answer.loc[b, 'last coin done']:g}"
                for b in BATCHES))

# %% [markdown]
# ## The answer

# %%
big, small = max(BATCHES), min(BATCHES)
display(Markdown(
    f"The same four people and the same {COINS * STEPS} minutes of flipping: with a batch of {big} the "
    f"customer waits **{answer.loc[big, 'first coin done']:g} minutes** for anything and gets everything at "
    f"{answer.loc[big, 'last coin done']:g}; with a batch of {small} the first coin arrives after "
    f"**{answer.loc[small, 'first coin done']:g} minutes** and the last after "
    f"{answer.loc[small, 'last coin done']:g}. Nobody worked faster: the coins waited less. With batches of "
    f"{big} each person is busy {answer.loc[big, 'busiest person busy']} of the game: the work waits, not the people."))

# %% [markdown]
# ## Cumulative flow: watch the batches move

# %%
for b, r in results.items():
    path = figures.cumulative_flow(r.records[0], "minute", f"Penny game, batch {b}", OUT / f"cfd_batch{b}.png")
    display(Image(filename=path))

# %% [markdown]
# ## The board at four moments, batch of 5
#
# (`vssim experiment=penny_game report.animate=true` writes the moving version, `kanban.gif`.)

# %%
board = animate.Board(results[5].records[0], "penny game, batch 5", time_unit="minute")
sheet = animate.KanbanAnimation([board], frames=36).snapshots(OUT / "board_batch5.png", count=4, dpi=60)
Image(filename=sheet)
