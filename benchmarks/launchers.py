"""Benchmark: the same 8-run sweep under Hydra's basic launcher and under joblib on every core.

Each round runs the sweep twice, in fresh sweep directories (so no run is skipped), as
`python -m vssim.cli -m ...` subprocesses: once with `hydra/launcher=basic` (one run after the
other, in the main process) and once with `hydra/launcher=joblib hydra.launcher.n_jobs=-1`
(loky worker processes, one per core). The wall time of the whole command is timed (and the
CPU time of it and its workers): Python start, composition, the 8 runs, the end-of-sweep
callback (runs.parquet); what a user waits for. The two alternate within a round, and the order
flips from round to round, so that a drift in the machine's speed hits both alike; the speed-up
is basic / joblib per round, and the median over rounds is reported. The two runs.parquet of a
round must be identical (the launcher does not change a number), which the script checks.

The sweep: dvs_basic, build WIP limit 3..10 (8 runs), 4 replications of 20,000 days each,
no figures and no event log.

    python benchmarks/launchers.py              # 3 rounds, table on stdout
    python benchmarks/launchers.py --rounds 5 --json

Not a test: timings on a shared machine are not pass/fail material (docs/sweeps.md has the figure).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

SWEEP = ["-m", "stream=dvs_basic", "stream.steps.build.wip_limit=3,4,5,6,7,8,9,10", "sim.replications=4",
         "sim.horizon=20000", "sim.warmup=500", "report.figures=false", "report.event_log=false"]
LAUNCHERS = {"basic": ["hydra/launcher=basic"], "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=-1"]}


def _cpu() -> float:
    """CPU seconds (user + system) of every finished child process and its own children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_sweep(launcher: str, out: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (the command and its worker processes) of one sweep."""
    argv = [sys.executable, "-m", "vssim.cli", *SWEEP, *LAUNCHERS[launcher], f"hydra.sweep.dir={out}"]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cpu, started = _cpu(), time.perf_counter()
    proc = subprocess.run(argv, cwd=out.parent, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{launcher} sweep failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return seconds, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    cores = os.cpu_count()
    times: dict[str, list[float]] = {name: [] for name in LAUNCHERS}
    cpu: dict[str, list[float]] = {name: [] for name in LAUNCHERS}
    ratios = []
    with tempfile.TemporaryDirectory(prefix="vssim-launchers-") as tmp:
        for r in range(args.rounds):
            order = list(LAUNCHERS) if r % 2 == 0 else list(reversed(LAUNCHERS))
            tables = {}
            for name in order:
                out = Path(tmp) / f"round{r}-{name}"
                wall, used = run_sweep(name, out)
                times[name].append(wall)
                cpu[name].append(used)
                tables[name] = pd.read_parquet(out / "runs.parquet")
                print(f"round {r + 1}/{args.rounds}: {name} {wall:.1f} s wall, {used:.1f} s CPU", file=sys.stderr)
            pd.testing.assert_frame_equal(tables["basic"], tables["joblib"], check_exact=True)
            ratios.append(times["basic"][-1] / times["joblib"][-1])
    result = {"cores": cores, "runs": 8, "rounds": args.rounds,
              "seconds": {name: [round(t, 2) for t in ts] for name, ts in times.items()},
              "median_seconds": {name: round(statistics.median(ts), 2) for name, ts in times.items()},
              "median_cpu_seconds": {name: round(statistics.median(ts), 2) for name, ts in cpu.items()},
              "load_average": round(os.getloadavg()[0], 2),
              "speedup_median": round(statistics.median(ratios), 2), "speedups": [round(x, 2) for x in ratios],
              "identical_results": True}
    if args.json:
        print(json.dumps(result))
        return
    print(f"8-run sweep (dvs_basic, 4 replications x 20,000 days each) on {cores} cores, {args.rounds} rounds")
    print(f"{'launcher':<10} {'median wall s':>14} {'median CPU s':>13}   wall per round")
    for name, ts in times.items():
        print(f"{name:<10} {statistics.median(ts):>14.1f} {statistics.median(cpu[name]):>13.1f}   "
              f"{', '.join(f'{t:.1f}' for t in ts)}")
    print(f"speed-up of joblib (n_jobs=-1) over basic: {result['speedup_median']:.2f}x (median of "
          f"{', '.join(f'{x:.2f}' for x in ratios)}); runs.parquet identical in every round")
    print(f"load average (1 min) at the end: {result['load_average']} on {cores} cores "
          "(other processes on a shared machine take cores from the parallel runs)")


if __name__ == "__main__":
    main()
