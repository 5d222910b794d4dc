"""Benchmark: memory and time of one very long run, streaming statistics against full records.

The line of `line.py` (five steps, one person each, exponential work of mean 1, Poisson arrivals
at 80 % load; Jackson: mean lead time 25). Each measurement runs in a fresh child process, so
that its peak resident memory (`ru_maxrss`: the interpreter, numpy, numba, simpy and pandas
included, ~250 MiB before the run starts) belongs to that run alone.

    python benchmarks/streaming.py                      # 10 million items, fast engine, streaming
    python benchmarks/streaming.py --engine simpy       # the same on the SimPy engine (~5 min)
    python benchmarks/streaming.py --items 1000000 --full   # also a full run of 1 M items, to compare
    python benchmarks/streaming.py --json

Issue 5's goal: a single run of ten million items finishes in under 1 GiB.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import vssim
items, engine, stats = int(sys.argv[1]), sys.argv[2], sys.argv[3]
spec = vssim.StreamSpec.from_dict({
    "name": "bench_line5", "time_unit": "hour",
    "arrivals": {"process": "poisson", "rate": 0.8},
    "pools": {f"p{k}": 1 for k in range(1, 6)},
    "steps": {f"s{k}": {"pool": f"p{k}", "work": {"dist": "exponential", "mean": 1.0}} for k in range(1, 6)}})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0, c0 = time.perf_counter(), time.process_time()
r = vssim.simulate(spec, horizon=items / 0.8, warmup=1000.0, engine=engine, stats=stats, progress=False)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
m = r.summary["metrics"]
print(json.dumps({"items": items, "engine": r.summary["sim"]["engine"], "stats": stats, "seconds": wall,
                  "cpu_seconds": cpu, "completed": m["completed"], "lead_time": m["lead_time"]["mean"],
                  "lead_time_p85": m["lead_time"]["p85"], "wip": m["wip"]["mean"],
                  "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "maxrss_before_run_mib": base / 1024}))
"""


def measure(items: int, engine: str, stats: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(items), engine, stats], capture_output=True, text=True,
                         check=False)
    if out.returncode:
        raise SystemExit(f"{engine}/{stats} with {items} items failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=10_000_000)
    ap.add_argument("--engine", choices=["fast", "simpy"], default="fast")
    ap.add_argument("--full", action="store_true", help="also a full-records run of --full-items items")
    ap.add_argument("--full-items", type=int, default=1_000_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    runs = []
    print(f"{a.engine}: streaming run of {a.items:,} items ...", file=sys.stderr)
    runs.append(measure(a.items, a.engine, "streaming"))
    if a.full:
        print(f"{a.engine}: full run of {a.full_items:,} items ...", file=sys.stderr)
        runs.append(measure(a.full_items, a.engine, "full"))
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "processor": platform.processor()}
    if a.json:
        print(json.dumps({"machine": machine, "runs": runs}, indent=2))
        return 0
    print(f"{'engine':7} {'stats':10} {'items':>12} {'seconds':>8} {'cpu s':>7} {'peak RSS MiB':>13} "
          f"{'before run':>11} {'lead time':>10} {'p85':>8}")
    for r in runs:
        print(f"{r['engine']:7} {r['stats']:10} {r['items']:12,} {r['seconds']:8.1f} {r['cpu_seconds']:7.1f} "
              f"{r['maxrss_mib']:13.0f} {r['maxrss_before_run_mib']:11.0f} {r['lead_time']:10.3f} "
              f"{r['lead_time_p85']:8.3f}")
    first = runs[0]
    verdict = "met" if first["maxrss_mib"] < 1024 else "NOT met"
    print(f"\nissue 5 goal, {first['items']:,} items in under 1 GiB: {verdict} "
          f"(peak {first['maxrss_mib']:.0f} MiB; Jackson's mean lead time is 25)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
