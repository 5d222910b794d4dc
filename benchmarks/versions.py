"""Two versions of vssim side by side: the CPU time of the same workloads, interleaved.

    .venv/bin/python benchmarks/versions.py OLD_TREE [NEW_TREE] [--repeats 5] [--json out.json]

OLD_TREE and NEW_TREE are checkouts of vssim (a directory holding `vssim/` and `configs/`; NEW_TREE
defaults to this one). Each round runs every workload once per version, in alternating order, each
in a fresh process with that tree first on `sys.path`; a process warms up (imports, numba
compilation, a first run) and then times `process_time()` over several calls of the public API
(`vssim.load_stream`, `vssim.simulate`), so that both versions run the same code path. The
figures are CPU seconds per call: the minimum and median over the rounds for each version, and
the ratio new / old of the medians with the spread between rounds (max / min of the per-round
ratios), which is the noise floor a difference must clear on a shared machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

LINE = {"name": "line", "arrivals": {"process": "poisson", "rate": 0.8},
        "pools": {f"p{j}": 1 for j in range(5)},
        "steps": {f"s{j}": {"pool": f"p{j}", "work": {"dist": "exponential", "mean": 1.0}} for j in range(5)}}

WORKLOADS = {
    # name: (stream: a dict or a packaged stream file, simulate keywords, calls per timing)
    "simpy_line": (LINE, {"horizon": 12000.0, "warmup": 1000.0, "replications": 1, "engine": "simpy"}, 2),
    "simpy_dvs_basic": ("dvs_basic", {"horizon": 3000.0, "warmup": 300.0, "replications": 2, "engine": "simpy"}, 2),
    "simpy_streaming": ("dvs_basic", {"horizon": 3000.0, "warmup": 300.0, "replications": 1, "engine": "simpy",
                                      "stats": "streaming"}, 2),
    "fast_line": (LINE, {"horizon": 25000.0, "warmup": 1000.0, "replications": 1, "engine": "fast"}, 40),
    "fast_penny_fab": ("penny_fab", {"horizon": 4000.0, "warmup": 400.0, "replications": 5, "engine": "fast"}, 10),
    "fast_streaming": (LINE, {"horizon": 200000.0, "warmup": 1000.0, "replications": 1, "engine": "fast",
                              "stats": "streaming"}, 4),
}

CHILD = r"""
import json, sys, time
tree, stream, kw, calls = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, tree)
import vssim
assert vssim.__file__.startswith(tree), vssim.__file__
spec = (vssim.load_stream(f"{tree}/configs/stream/{stream}.yaml") if isinstance(stream, str)
        else vssim.StreamSpec.from_dict(stream))
run = lambda seed: vssim.simulate(spec, seed=seed, progress=False, **kw)
run(0)                                  # imports, compilation, memory faulted in
t0 = time.process_time()
for seed in range(1, calls + 1):
    run(seed)
print(json.dumps((time.process_time() - t0) / calls))
"""


def measure(tree: Path, workload: str) -> float:
    stream, kw, calls = WORKLOADS[workload]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), json.dumps(stream), json.dumps(kw), str(calls)],
                         capture_output=True, text=True, env=env, cwd=tree, check=False)
    if out.returncode:
        raise SystemExit(f"{workload} on {tree}: {out.stderr.strip().splitlines()[-1]}")
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path, nargs="?", default=HERE)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", nargs="*", choices=sorted(WORKLOADS), help="these workloads only")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    names = args.only or list(WORKLOADS)
    times: dict[str, dict[str, list[float]]] = {w: {"old": [], "new": []} for w in names}
    try:
        from tqdm import tqdm
        bar = tqdm(total=args.repeats * len(names) * 2, unit="run", leave=False)
    except ImportError:  # pragma: no cover
        bar = None
    for r in range(args.repeats):
        for w in names:
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for version in order:
                times[w][version].append(measure(trees[version], w))
                if bar is not None:
                    bar.update()
    if bar is not None:
        bar.close()
    print(f"CPU seconds per call, {args.repeats} interleaved rounds; old = {trees['old']}, new = {trees['new']}")
    print(f"{'workload':<18} {'old min':>9} {'old med':>9} {'new min':>9} {'new med':>9} {'new/old':>8} "
          f"{'rounds':>13}")
    rows = {}
    for w in names:
        old, new = times[w]["old"], times[w]["new"]
        per_round = [n / o for n, o in zip(new, old, strict=True)]
        ratio = statistics.median(new) / statistics.median(old)
        rows[w] = {"old": old, "new": new, "ratio_of_medians": ratio, "round_ratios": per_round}
        print(f"{w:<18} {min(old):9.4f} {statistics.median(old):9.4f} {min(new):9.4f} {statistics.median(new):9.4f} "
              f"{ratio:8.3f} {min(per_round):6.3f}-{max(per_round):.3f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
