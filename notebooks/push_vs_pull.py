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
# # Push versus pull
#
# **Question.** The same team (`team_kanban`: six people, analyse → develop → test → deploy)
# and the same demand (0.8 items a day). Under **push** nobody limits anything and a free person
# starts new work first; under **pull** people finish before they start, every column has a WIP
# limit and new work is committed only while the system holds fewer than twice the critical WIP
# (CONWIP). What happens to lead time, WIP and throughput?
#
# Both policies run on the **same random numbers** (common random numbers): replication *r* of
# push and of pull see the same arrivals and the same work, so the difference is the policy.
#
# **How to change it:** edit the cell *Parameters* (the load `RATE`, replications, horizon,
# seed), or copy `configs/scenario/pull.yaml` and load your own. The same study on the command
# line: `vssim experiment=push_vs_pull` (experiments/push_vs_pull/README.md).

# %%
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Image, Markdown, display
from matplotlib.figure import Figure

import vssim
from vssim.report import animate, figures
from vssim.run.experiment import Settings, run_experiment
from vssim.scenarios.scenario import Scenario, compose, load_scenario

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "configs" / "stream").is_dir())
OUT = ROOT / "outputs" / "notebooks" / "push_vs_pull"
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## Parameters

# %%
STREAM = "team_kanban"
RATE = 0.8                 # items a day; try 0.9: the closer to capacity, the larger the difference
SETTINGS = Settings(horizon=2000, warmup=200, replications=10, seed=1, engine="auto", progress=False)

# %% [markdown]
# ## Run both policies

# %%
spec = vssim.load_stream(ROOT / "configs" / "stream" / f"{STREAM}.yaml")
demand = Scenario("demand", patch={"arrivals": {"rate": RATE}})
scenarios = {name: compose([demand, load_scenario(ROOT / "configs" / "scenario" / f"{name}.yaml")])
             for name in ("push", "pull")}
scenarios = {name: Scenario(name, s.description, s.accelerator, s.patch, s.transforms) for name, s in scenarios.items()}
outcome = run_experiment(spec, scenarios, SETTINGS, OUT, compare=True, baseline="push", figures=False,
                         event_log=False)
table = outcome.comparison.table
unit = spec.time_unit

# %% [markdown]
# ## Lead time, WIP and throughput side by side, with 95 % confidence intervals

# %%
METRICS = {"lead_time_p85": f"p85 lead time ({unit}s)", "lead_time": f"mean lead time ({unit}s)",
           "throughput": f"throughput (items/{unit})", "wip": "WIP (items)", "flow_efficiency": "flow efficiency"}


def cell(row, pct=False):
    f = (lambda x: f"{100 * x:.1f} %") if pct else (lambda x: f"{x:.3g}")
    return f"{f(row['mean'])} ({f(row.ci_lo)} to {f(row.ci_hi)})"


rows = []
for metric, label in METRICS.items():
    push = table[(table.scenario == "push") & (table.metric == metric)].iloc[0]
    pull = table[(table.scenario == "pull") & (table.metric == metric)].iloc[0]
    pct = metric == "flow_efficiency"
    scale = 100 if pct else 1
    rows.append({"metric": label, "push": cell(push, pct), "pull": cell(pull, pct),
                 "pull − push (paired 95 % CI)": f"{scale * pull['diff']:+.3g} ({scale * pull.diff_lo:+.3g} to "
                                                  f"{scale * pull.diff_hi:+.3g})"
                                                  + ("" if pull.significant else ", not significant")})
side_by_side = pd.DataFrame(rows).set_index("metric")
side_by_side

# %%
figures.comparison_bars(table, OUT / "comparison.png", time_unit=unit,
                        title=f"{STREAM} at {RATE} items/{unit}: push against pull")
Image(filename=OUT / "comparison.png")

# %% [markdown]
# ## The answer

# %%
p85 = table[table.metric == "lead_time_p85"].set_index("scenario")
th = table[table.metric == "throughput"].set_index("scenario")
wip = table[table.metric == "wip"].set_index("scenario")
pull_shorter = bool(p85.loc["pull", "diff_hi"] < 0)
th_inside = bool(th.loc["push", "ci_lo"] <= th.loc["pull", "mean"] <= th.loc["push", "ci_hi"])
display(Markdown(
    f"**{'Yes' if pull_shorter else 'No'}.** Pull changes the p85 lead time from "
    f"{p85.loc['push', 'mean']:.3g} to {p85.loc['pull', 'mean']:.3g} {unit}s "
    f"({p85.loc['pull', 'pct_change']:+.1f} %, paired 95 % CI of the difference "
    f"{p85.loc['pull', 'diff_lo']:+.3g} to {p85.loc['pull', 'diff_hi']:+.3g}) and WIP from "
    f"{wip.loc['push', 'mean']:.3g} to {wip.loc['pull', 'mean']:.3g} items. Its throughput, "
    f"{th.loc['pull', 'mean']:.3g}/{unit}, is {'inside' if th_inside else 'outside'} push's 95 % CI "
    f"({th.loc['push', 'ci_lo']:.3g} to {th.loc['push', 'ci_hi']:.3g}): the same team finishes the same "
    "work; it just starts less of it at once."))
print(f"pull has a lower p85 lead time (paired CI below 0): {pull_shorter}")
print(f"pull's throughput within push's 95 % CI: {th_inside}")
assert pull_shorter and th_inside or RATE != 0.8, "the workshop's claim does not hold for these parameters"

# %% [markdown]
# ## Little's law, made visible
#
# WIP = throughput × flow time, for any stable system whatever its policy: that is why less WIP
# at the same throughput *must* mean shorter flow times. Each dot is one replication; its WIP
# (time average of committed items) against its throughput × its mean flow time (commit → done).
# They fall on the diagonal.

# %%
reps = pd.concat([pd.DataFrame(outcome.results[name].summary["replications"]).assign(policy=name)
                  for name in ("push", "pull")], ignore_index=True)
reps["throughput × flow time"] = reps["throughput"] * reps["flow_time"]
reps["residual"] = reps["wip"] / reps["throughput × flow time"] - 1
fig = Figure(figsize=(6, 5), dpi=100, layout="constrained")
ax = fig.subplots()
for k, (name, g) in enumerate(reps.groupby("policy", sort=False)):
    ax.scatter(g["throughput × flow time"], g["wip"], color=figures.color(k), label=name, s=40)
lo, hi = reps[["wip", "throughput × flow time"]].min().min() * 0.95, reps[["wip", "throughput × flow time"]].max().max() * 1.05
ax.plot([lo, hi], [lo, hi], color="grey", linestyle="--", label="WIP = throughput × flow time")
ax.set_xlabel(f"throughput × mean flow time (items/{unit} × {unit}s)")
ax.set_ylabel("time-average WIP (items)")
ax.set_title("Little's law, one dot per replication")
ax.legend()
fig.savefig(OUT / "littles_law.png")
display(Image(filename=OUT / "littles_law.png"))
print("largest relative gap |WIP / (throughput × flow time) − 1| over", len(reps), "replications:",
      f"{reps['residual'].abs().max():.2%}")
reps[["policy", "replication", "wip", "throughput", "flow_time", "throughput × flow time", "residual"]].round(3)

# %% [markdown]
# The small gaps are edge effects of a finite window (items in progress at the warmup and at
# the end), not a failure of the law.
#
# ## The board: where the work waits
#
# The same stretch of 60 days under both policies (the stretch where push held the most work,
# replication 0). Under push, work piles up in columns nobody gets to (deploy waits while
# everybody starts new work); under pull, the columns stay at their limits (red headers) and
# new requests wait in the backlog, not half-done on the board.

# %%
single = {name: vssim.simulate(scenarios[name].apply(spec), horizon=SETTINGS.horizon, warmup=SETTINGS.warmup,
                               replications=1, seed=SETTINGS.seed, scenario=name, progress=False)
          for name in ("push", "pull")}
boards = [animate.Board.of(single[name], name) for name in ("push", "pull")]
start = animate.busiest_start(boards[0].rec, 60)
movie = animate.KanbanAnimation(boards, start=start, span=60, frames=100, title=f"{STREAM}, the same demand")
sheet = movie.snapshots(OUT / "board_snapshots.png", count=3, dpi=60)
Image(filename=sheet)

# %% [markdown]
# The moving version is in the README (`docs/img/kanban_push_vs_pull.gif`). To write it again,
# or for other parameters, set `WRITE_GIF = True` (about 20 s):

# %%
WRITE_GIF = False
if WRITE_GIF:
    print(movie.save(ROOT / "docs" / "img" / "kanban_push_vs_pull.gif", fps=8, dpi=80))
