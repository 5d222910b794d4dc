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
# # WIP research: a CONWIP sweep against the Factory Physics curves
#
# **Question.** On a closed line (a backlog that never empties, work released under CONWIP *w*),
# how do throughput and cycle time grow with *w*, and does the simulator follow Factory Physics:
# between the **best case** (no variability), the **worst case** (everything in one batch) and
# the **practical worst case** (balanced exponential stations), with exact mean value analysis
# (MVA) where the stations are exponential? Where is the knee, the critical WIP W0 = r_b × T0?
#
# `balanced_line`: five one-person stations, exponential work of mean 1 hour, so r_b = 1/hour,
# T0 = 5 hours, W0 = 5, and the practical worst case *is* the exact curve. The line qualifies for
# vssim's exact fast engine (`engine="auto"`), so the whole sweep runs in-process in seconds.
#
# **How to change it:** `LEVELS`, `SETTINGS` in the cell *Parameters*; another closed stream
# (`STREAM = "penny_fab"`, Factory Physics' Penny Fab Two, two people at some stations: also on the fast engine).
# The same sweep on the command line, on every core: `vssim experiment=wip_sweep stream=balanced_line`
# (docs/sweeps.md).

# %%
import time
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Image, Markdown, display

import vssim
from vssim.report import figures
from vssim.analysis import wipcurve
from vssim.scenarios.scenario import Scenario

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "configs" / "stream").is_dir())
OUT = ROOT / "outputs" / "notebooks" / "wip_research"
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## Parameters

# %%
STREAM = "balanced_line"
LEVELS = list(range(1, 26))
HORIZON, WARMUP, REPLICATIONS, SEED = 4000, 400, 5, 1

# %% [markdown]
# ## The sweep: one simulation per CONWIP level

# %%
spec = vssim.load_stream(ROOT / "configs" / "stream" / f"{STREAM}.yaml")
unit = spec.time_unit
rows = []
started = time.perf_counter()
for w in LEVELS:
    level = Scenario(f"conwip_{w}", patch={"release": {"policy": "conwip", "conwip": w}}).apply(spec)
    r = vssim.simulate(level, horizon=HORIZON, warmup=WARMUP, replications=REPLICATIONS, seed=SEED, engine="auto",
                       scenario=f"conwip_{w}", progress=False)
    for rep in r.summary["replications"]:
        rows.append({"conwip": w, "engine": r.summary["sim"]["engine"], **{k: rep[k] for k in
                     ("replication", "throughput", "wip", "flow_time", "lead_time")}})
runs = pd.DataFrame(rows)
print(f"{len(LEVELS)} levels x {REPLICATIONS} replications of {HORIZON} {unit}s in {time.perf_counter() - started:.1f} s "
      f"on the {', '.join(runs.engine.unique())} engine")

# %% [markdown]
# ## Against the theory

# %%
points = wipcurve.sweep_points(runs, "conwip")
theory = wipcurve.curves(spec, max(LEVELS))
vut = wipcurve.vut_cycle_time(spec, points["throughput"].to_numpy())
figures.wip_curves(points, theory, unit, OUT / "wip_curves.png", vut=vut,
                   title=f"{STREAM}: throughput and cycle time against WIP (CONWIP sweep)")
Image(filename=OUT / "wip_curves.png")

# %%
idx = points["level"].astype(int).to_numpy() - 1
compare = pd.DataFrame({
    "WIP (CONWIP)": points["level"].astype(int),
    "throughput": points["throughput"].round(4),
    "95 % CI": [f"{lo:.3f} to {hi:.3f}" for lo, hi in zip(points.throughput_lo, points.throughput_hi, strict=True)],
    "best case": theory.best[0][idx].round(4),
    "practical worst": theory.practical_worst[0][idx].round(4),
    "exact MVA": theory.mva[0][idx].round(4) if theory.mva is not None else np.nan,
    "cycle time": points["flow_time"].round(3),
    "MVA cycle time": theory.mva[1][idx].round(3) if theory.mva is not None else np.nan,
}).set_index("WIP (CONWIP)")
compare

# %% [markdown]
# ## The answer

# %%
inside = int(((points.throughput_lo <= theory.mva[0][idx]) & (theory.mva[0][idx] <= points.throughput_hi)).sum()) \
    if theory.mva is not None else 0
between = bool(np.all(points["throughput"].to_numpy() <= theory.best[0][idx] * 1.001)
               and np.all(points["throughput"].to_numpy() >= theory.worst[0][idx] * 0.999))
rel = np.abs(points["throughput"].to_numpy() / theory.mva[0][idx] - 1) if theory.mva is not None else np.array([np.nan])
little = np.abs(runs["wip"] / (runs["throughput"] * runs["flow_time"]) - 1).max()
at_w0 = points.loc[points.level == round(theory.w0)]
at_2w0 = points.loc[points.level == round(2 * theory.w0)]
gain = float(at_2w0.throughput.iloc[0] / at_w0.throughput.iloc[0] - 1)
ct_gain = float(at_2w0.flow_time.iloc[0] / at_w0.flow_time.iloc[0] - 1)
display(Markdown(
    f"r_b = {theory.rb:.3g}/{unit}, T0 = {theory.t0:.3g} {unit}s, critical WIP **W0 = {theory.w0:.3g}**. "
    f"Every simulated throughput lies between the worst and the best case: **{between}**. The exact MVA "
    f"throughput is inside the simulation's 95 % CI at {inside} of {len(points)} levels (about 95 % expected), "
    f"largest relative gap {np.nanmax(rel):.1%}. At W0 the line delivers "
    f"{float(at_w0.throughput.iloc[0]):.3g}/{unit} = {float(at_w0.throughput.iloc[0]) / theory.rb:.0%} of r_b: "
    "with variability the knee is not sharp. Doubling WIP from W0 to 2 W0 buys "
    f"{gain:+.0%} throughput and costs {ct_gain:+.0%} cycle time; far beyond it, each extra item adds about "
    f"1/r_b = {1 / theory.rb:.3g} {unit} of cycle time and almost no throughput (Little's law: largest gap "
    f"|WIP / (throughput x flow time) - 1| over all runs {little:.2%})."))
assert between
