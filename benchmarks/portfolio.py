"""Benchmark: a portfolio of 20 teams over two years on the SimPy engine (issue 13's speed goal).

Epics arrive (Poisson, 1 a day), are reviewed by portfolio management and split into features for
four ARTs (0, 1, 1 or 2 each); each ART refines a feature and splits it into stories for its five
teams (Poisson, mean 3.4 each), integrates it when its last story is done; the epic is done when
its last feature is. About 68 stories a day: ~50,000 stories in 730 days, 20 team boards, 4 ART
boards, three levels. Each team: five people, one build step (gamma, mean 1 day x the story's
size), a team CONWIP of 10.

The peer, measured in the same run: a flat line (the stream's own board, no teams) that makes as
many item-steps, on the same engine, so the ratio of their item-step rates is what the hierarchy
costs per visit (splits, joins, 24 boards, the family columns of the records) on this machine.
Memory: each run's tracemalloc peak per million item-steps (records included), in the same way
for both: the records grow with the items, the engine's own state only with the items alive.

    python benchmarks/portfolio.py                    # 730 days, one replication, full records
    python benchmarks/portfolio.py --days 200 --repeats 1
    python benchmarks/portfolio.py --json

Issue 13's goal: ~50,000 stories, one replication with full records, under 30 s.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
import tracemalloc

GOAL_SECONDS = 30.0


def portfolio(arts: int = 4, teams: int = 5, stories: float = 3.4) -> dict:
    """The stream: `arts` ARTs of `teams` teams; each team gets Poisson(`stories`) stories per feature."""
    team = {"pools": {"devs": 5}, "release": {"policy": "conwip", "conwip": 10},
            "steps": {"build": {"pool": "devs", "work": {"dist": "gamma", "mean": 1.0, "cv": 1.0}}}}
    art = {"pools": {"product": 2, "system": 3}, "release": {"policy": "conwip", "conwip": 12},
           "teams": {f"t{k}": team for k in range(1, teams + 1)},
           "steps": {"refine": {"pool": "product", "work": {"dist": "lognormal", "mean": 0.4, "cv": 0.6}},
                     "implement": {"split": {"into": "story", "teams": {
                         f"t{k}": {"count": {"dist": "poisson", "mu": stories}} for k in range(1, teams + 1)}}},
                     "integrate": {"pool": "system", "work": {"dist": "gamma", "mean": 0.5, "cv": 1.0}}}}
    return {"name": "bench_portfolio", "time_unit": "day", "level": "epic",
            "arrivals": {"process": "poisson", "rate": 1.0},
            "pools": {"portfolio_management": 2},
            "teams": {f"art{a}": art for a in range(1, arts + 1)},
            "steps": {"review": {"pool": "portfolio_management", "work": {"dist": "lognormal", "mean": 0.5, "cv": 0.5}},
                      "implement": {"split": {"into": "feature", "teams": {
                          f"art{a}": {"count": {"dist": "empirical", "values": [0, 1, 1, 2]}}
                          for a in range(1, arts + 1)}}}}}


def line(rate: float) -> dict:
    """The peer: five steps in series, one person each at 80 % load (arrival `rate`)."""
    return {"name": "bench_line5", "time_unit": "day", "arrivals": {"process": "poisson", "rate": rate},
            "pools": {f"p{k}": 1 for k in range(1, 6)},
            "steps": {f"s{k}": {"pool": f"p{k}", "work": {"dist": "exponential", "mean": 0.8 / rate}}
                      for k in range(1, 6)}}


def run(spec, days: float, seed: int = 0) -> dict:
    import vssim

    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    r = vssim.simulate(spec, horizon=days, warmup=0.0, replications=1, seed=seed, engine="simpy", progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rec = r.records[0]
    levels = {name: int((rec.item_level == k).sum()) for k, name in enumerate(rec.level_names)}
    return {"seconds": wall, "cpu_seconds": cpu, "item_steps": int((rec.visit_end == rec.visit_end).sum()),
            "items": rec.n_items, "levels": levels, "lead_time": r.summary["metrics"]["lead_time"]["mean"]}


def peak(spec, days: float) -> float:
    """tracemalloc peak of one run, MiB."""
    import vssim

    gc.collect()
    tracemalloc.start()
    vssim.simulate(spec, horizon=days, warmup=0.0, replications=1, engine="simpy", progress=False)
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top / 2**20


def main(argv=None) -> int:
    import vssim

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=730.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    spec = vssim.StreamSpec.from_dict(portfolio())
    print("warm-up ...", file=sys.stderr)
    first = run(spec, min(a.days, 60.0))
    # the peer makes as many item-steps: the portfolio's visits per day over its 5 steps at rate x 5
    per_day = first["item_steps"] / min(a.days, 60.0)
    peer = vssim.StreamSpec.from_dict(line(per_day / 5))
    run(peer, 60.0)
    rows = []
    for k in range(a.repeats):          # interleaved, the order alternating round by round
        order = [("portfolio", spec), ("line", peer)][:: 1 if k % 2 == 0 else -1]
        got = {}
        for name, s in order:
            print(f"round {k + 1}/{a.repeats}: {name} ...", file=sys.stderr)
            got[name] = run(s, a.days, seed=k)
        rows.append(got)
    out = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "processor": platform.processor()},
           "days": a.days, "rounds": rows}
    if not a.no_memory:
        print("memory runs ...", file=sys.stderr)
        out["peak_mib"] = {"portfolio": peak(spec, a.days), "line": peak(peer, a.days)}

    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2]

    p = [r["portfolio"] for r in rows]
    out["median_seconds"] = median([r["seconds"] for r in p])
    out["median_cpu_seconds"] = median([r["cpu_seconds"] for r in p])
    out["rate_ratio_cpu"] = median([(r["portfolio"]["item_steps"] / r["portfolio"]["cpu_seconds"])
                                    / (r["line"]["item_steps"] / r["line"]["cpu_seconds"]) for r in rows])
    out["goal_met"] = out["median_seconds"] < GOAL_SECONDS
    if a.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{'run':10} {'items':>8} {'stories':>8} {'item-steps':>11} {'seconds':>8} {'cpu s':>7} "
          f"{'k steps/cpu s':>14} {'lead time':>10}")
    for r in rows:
        for name in ("portfolio", "line"):
            x = r[name]
            print(f"{name:10} {x['items']:8,} {x['levels'].get('story', 0):8,} {x['item_steps']:11,} "
                  f"{x['seconds']:8.2f} {x['cpu_seconds']:7.2f} {x['item_steps'] / x['cpu_seconds'] / 1e3:14.1f} "
                  f"{x['lead_time']:10.2f}")
    print(f"\nportfolio / line item-step rate (CPU, median of rounds): {out['rate_ratio_cpu']:.2f}")
    if "peak_mib" in out:
        m, steps = out["peak_mib"], {n: rows[0][n]["item_steps"] / 1e6 for n in ("portfolio", "line")}
        print("tracemalloc peak, MiB per million item-steps: " + ", ".join(
            f"{n} {m[n] / steps[n]:.0f} ({m[n]:.0f} MiB)" for n in ("portfolio", "line")))
    verdict = "met" if out["goal_met"] else "NOT met"
    print(f"issue 13 goal, {p[0]['levels'].get('story', 0):,} stories in under {GOAL_SECONDS:.0f} s: {verdict} "
          f"(median {out['median_seconds']:.1f} s wall, {out['median_cpu_seconds']:.1f} s CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
