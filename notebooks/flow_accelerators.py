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
# # The eight flow accelerators
#
# **Question.** `dvs_basic` (define → build → validate → release, 20 % rework, a two-weekly
# release train, interrupted developers) is the stream as it is today. Which of SAFe's eight
# flow accelerators shortens its **85th percentile of lead time** most, and which of those
# differences can we trust?
#
# Each accelerator is one scenario file in `configs/scenario/`; every one runs on the same
# random numbers as the baseline, so each difference is paired replication by replication.
#
# **How to change it:** `STREAM`, `ACCELERATORS` and `SETTINGS` in the cell *Parameters*; how
# strong an accelerator is lives in its file (e.g. `per_person` in `limit_wip.yaml`). The same
# study on the command line: `vssim experiment=accelerators` (experiments/accelerators/README.md).

# %%
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

import vssim
from vssim.report import figures
from vssim.run.experiment import Settings, run_experiment
from vssim.scenarios.scenario import ACCELERATORS, load_scenario

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "configs" / "stream").is_dir())
OUT = ROOT / "outputs" / "notebooks" / "flow_accelerators"
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## Parameters

# %%
STREAM = "dvs_basic"
ACCELERATORS_FILES = ["limit_wip", "elevate_constraint", "fewer_handoffs", "faster_feedback", "smaller_batches",
                      "shorter_queues", "time_in_the_zone", "legacy_policies"]
SETTINGS = Settings(horizon=2000, warmup=200, replications=10, seed=1, engine="auto", progress=False)

# %% [markdown]
# ## Run the baseline and the eight accelerators (about half a minute)

# %%
spec = vssim.load_stream(ROOT / "configs" / "stream" / f"{STREAM}.yaml")
scenarios = {name: load_scenario(ROOT / "configs" / "scenario" / f"{name}.yaml") for name in ACCELERATORS_FILES}
pd.DataFrame({"accelerator": [ACCELERATORS.get(s.accelerator, s.accelerator) for s in scenarios.values()],
              "what the scenario changes": [s.description for s in scenarios.values()]},
             index=list(scenarios))

# %%
outcome = run_experiment(spec, scenarios, SETTINGS, OUT, compare=True, figures=False, event_log=False)
table = outcome.comparison.table
unit = spec.time_unit

# %% [markdown]
# ## Ranked by effect on p85 lead time

# %%
p85 = table[(table.metric == "lead_time_p85") & (table.scenario != "baseline")].copy()
th = table[table.metric == "throughput"].set_index("scenario")
p85 = p85.sort_values("diff").reset_index(drop=True)
p85.index += 1
ranking = pd.DataFrame({
    "scenario": p85.scenario,
    f"p85 ({unit}s)": p85["mean"].round(1),
    "Δ vs baseline": p85["diff"].round(2),
    "paired 95 % CI": [f"{lo:+.2f} to {hi:+.2f}" for lo, hi in zip(p85.diff_lo, p85.diff_hi, strict=True)],
    "% change": p85["pct_change"].round(1),
    "significant": p85.significant,
    "throughput Δ %": [round(th.loc[s, "pct_change"], 1) for s in p85.scenario],
}, index=p85.index).rename_axis("rank")
base_p85 = table[(table.metric == "lead_time_p85") & (table.scenario == "baseline")]["mean"].iloc[0]
print(f"baseline p85 lead time: {base_p85:.1f} {unit}s ({SETTINGS.replications} replications, seed {SETTINGS.seed})")
ranking

# %%
figures.comparison_bars(table, OUT / "comparison.png", time_unit=unit,
                        title=f"The eight flow accelerators on {STREAM}")
Image(filename=OUT / "comparison.png")

# %% [markdown]
# ## The answer, and the caveat of the confidence intervals

# %%
best = p85.iloc[0]
helps = p85[p85.significant & (p85["diff"] < 0)]
unclear = p85[~p85.significant]
# neighbours in the ranking whose intervals overlap may not be told apart at this many replications (a paired
# comparison of the two alternatives directly would be sharper: both ran on the same random numbers)
ties = [(a.scenario, b.scenario) for a, b in zip(p85.itertuples(), p85.iloc[1:].itertuples(), strict=False)
        if a.diff_hi >= b.diff_lo]
display(Markdown(
    f"**{best.scenario}** shortens the p85 lead time most: {best['diff']:+.2f} {unit}s "
    f"({best['pct_change']:+.1f} %, paired 95 % CI {best.diff_lo:+.2f} to {best.diff_hi:+.2f}). "
    f"{len(helps)} of the {len(p85)} accelerators shorten it significantly: {', '.join(helps.scenario)}. "
    + (f"For {', '.join(unclear.scenario)} the interval includes 0: on this stream we cannot tell the effect "
       "from noise. " if len(unclear) else "")
    + "\n\n**Caveat.** The ranking is of point estimates. Neighbours whose paired intervals overlap ("
    + (", ".join(f"{a} / {b}" for a, b in ties) or "none here")
    + ") may not be distinguishable with "
    f"{SETTINGS.replications} replications: rerun with more replications or another `seed` before telling a room "
    "that one beats the other. Each interval stands alone (no correction for testing eight at once), so among "
    "eight, one may look significant by chance. `smaller_batches` splits items in two: its figures count "
    "whole items (an item is done when both halves are), and its halves reach users earlier "
    "(time to first value)."))

# %% [markdown]
# ## Lead-time distributions

# %%
items = {name: r.items.loc[r.items["arrival"] >= SETTINGS.warmup, "lead_time"].to_numpy()
         for name, r in outcome.results.items()}
figures.lead_time_distributions(items, unit, OUT / "lead_times.png", title=f"{STREAM}: lead time per accelerator")
Image(filename=OUT / "lead_times.png")
