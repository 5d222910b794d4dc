"""Benchmark: one five-step serial line in vssim, in ciw and in a minimal hand-written SimPy model.

The line: Poisson arrivals at rate 0.8, five steps in series, one person per step, exponential
work of mean 1 (80 % load at every step), no WIP limits. By Jackson's theorem each step is an
M/M/1 queue with mean time in system 1/(1 - 0.8) = 5, so the mean lead time is 25.

Every implementation simulates the same horizon, T = items / 0.8 (so about `--items` items
arrive), starting empty, and counts the item-steps (services) completed by T. Speed is
completed item-steps per second of wall time. The implementations run interleaved
(vssim, ciw, minimal SimPy, then the same in reverse order, ...) so that a drift in the
machine's speed, and whatever one run leaves behind in the process (heap, caches), hits them
alike; every run starts after `gc.collect()`, with the garbage collector on. Ratios are taken
round by round (the median over rounds is reported).

What is timed:

* vssim (simpy / fast engine): `vssim.simulate(spec, ...)` for one replication, i.e. the engine,
  building the `Records` arrays and computing the summary (metrics with CIs, the steps table):
  what a user pays for a run. The spec is parsed once, outside the timing. The fast engine runs
  only if `"fast"` is in `vssim.run.simulate.ENGINES` when the benchmark starts. "*_engine_only"
  times `Plan.of(spec)` + the engine (`vssim.engines.registry.run_records`): records
  included, no summary.
* ciw: building the `Simulation` from the network, `simulate_until_max_time(T)` and
  `get_all_records()`.
* minimal SimPy: the environment, resources and the run (one process per item, one
  `simpy.Resource` per step, draws from a numpy Generator in blocks of 1024).

Peak memory: one extra, untimed run of each implementation under `tracemalloc`; its peak
(the largest amount of memory allocated by the run and held at one time: Python objects,
arrays, numpy buffers; not the interpreter or the imported libraries) divided by the run's
item-steps, in MiB per million item-steps.

    python benchmarks/line.py                 # table; progress on stderr
    python benchmarks/line.py --json          # one JSON object on stdout, for tracking
    python benchmarks/line.py --items 5000 --repeats 3
    python benchmarks/line.py --save bench.json   # table, and the JSON object written to bench.json
    python benchmarks/line.py --vssim-only    # only the two vssim engines (the fast/SimPy ratios)
    python benchmarks/line.py --profile       # cProfile of vssim.simulate on this line
    python benchmarks/line.py --profile --engine fast
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np
import simpy

STEPS = 5
RATE = 0.8            # arrivals per unit time; work has mean 1, so the load is 0.8 at every step
WORK_MEAN = 1.0
JACKSON_LEAD_TIME = STEPS * WORK_MEAN / (1 - RATE * WORK_MEAN)   # 25
BLOCK = 1024

GOALS = {  # issue 6: ratios of item-steps per second, measured side by side
    "vssim_simpy/ciw": 3.0,
    "vssim_simpy/minimal_simpy": 0.7,
    "vssim_fast/vssim_simpy": 100.0,
    "vssim_fast_engine_only/vssim_simpy_engine_only": 100.0,
}


# --------------------------------------------------------------------------- vssim
def line_spec():
    import vssim

    return vssim.StreamSpec.from_dict({
        "name": "bench_line5",
        "time_unit": "hour",
        "description": "five-step serial line, one person per step, exponential work of mean 1, 80 % load",
        "arrivals": {"process": "poisson", "rate": RATE},
        "pools": {f"p{k}": 1 for k in range(1, STEPS + 1)},
        "steps": {f"s{k}": {"pool": f"p{k}", "work": {"dist": "exponential", "mean": WORK_MEAN},
                            "wip_limit": None}
                  for k in range(1, STEPS + 1)},
    })


def vssim_engines() -> tuple[str, ...]:
    """The engines this vssim offers (read at run time: the fast engine may or may not exist)."""
    from vssim.run.simulate import ENGINES

    return tuple(ENGINES)


def vssim_run(spec, horizon, seed, engine):
    import vssim

    def run():
        return vssim.simulate(spec, horizon=horizon, warmup=0.0, replications=1, seed=seed, engine=engine,
                              progress=False)

    def measure(result):
        return records_stats(result.records[0])

    return run, measure


def vssim_engine_only(spec, horizon, seed, engine):
    """The engine alone: Plan.of + the engine (`vssim.engines.registry.run_records`); records, no summary."""
    from vssim.engines.registry import run_records
    from vssim.model.plan import Plan

    def run():
        return run_records(engine, Plan.of(spec), horizon=horizon, warmup=0.0, seed=seed, replication=0)

    return run, records_stats


def records_stats(rec):
    item_steps = int(np.isfinite(rec.visit_end).sum())
    done = np.isfinite(rec.done)
    return item_steps, int(done.sum()), float((rec.done - rec.arrival)[done].mean())


# --------------------------------------------------------------------------- ciw
def ciw_run(horizon, seed):
    import ciw

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=RATE)] + [None] * (STEPS - 1),
        service_distributions=[ciw.dists.Exponential(rate=1.0 / WORK_MEAN) for _ in range(STEPS)],
        routing=[[1.0 if j == i + 1 else 0.0 for j in range(STEPS)] for i in range(STEPS)],
        number_of_servers=[1] * STEPS,
    )

    def run():
        ciw.seed(seed)
        q = ciw.Simulation(network)
        q.simulate_until_max_time(horizon)
        return q.get_all_records()

    def measure(records):
        services = [r for r in records if r.record_type == "service"]
        entered = {r.id_number: r.arrival_date for r in services if r.node == 1}
        leads = [r.exit_date - entered[r.id_number] for r in services if r.node == STEPS]
        return len(services), len(leads), float(np.mean(leads))

    return run, measure


# --------------------------------------------------------------------------- minimal SimPy
def _blocks(rng: np.random.Generator, mean: float):
    while True:
        yield from rng.exponential(mean, BLOCK).tolist()


def minimal_simpy_run(horizon, seed):
    def run():
        rng = np.random.default_rng(seed)
        gaps = _blocks(rng, 1.0 / RATE)
        work = [_blocks(rng, WORK_MEAN) for _ in range(STEPS)]
        env = simpy.Environment()
        resources = [simpy.Resource(env, capacity=1) for _ in range(STEPS)]
        leads = []
        served = [0]

        def item(env):
            t0 = env.now
            for k in range(STEPS):
                with resources[k].request() as req:
                    yield req
                    yield env.timeout(next(work[k]))
                served[0] += 1
            leads.append(env.now - t0)

        def source(env):
            while True:
                yield env.timeout(next(gaps))
                env.process(item(env))

        env.process(source(env))
        env.run(until=horizon)
        return served[0], leads

    def measure(out):
        served, leads = out
        return served, len(leads), float(np.mean(leads))

    return run, measure


# --------------------------------------------------------------------------- harness
def timed(run):
    """Wall seconds, CPU seconds of this process, and the run's result."""
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = run()
    t1 = time.perf_counter()
    c1 = time.process_time()
    return t1 - t0, c1 - c0, out


def forget_kept_memory() -> None:
    """vssim keeps the blocks of a run and of a summary for the next ones (`vssim.engines.maxplus.memory.Arena`,
    scratch memory): drop them, so that a traced run allocates all it uses."""
    try:
        from vssim.engines.maxplus.memory import Arena
        from vssim.scratch import release as release_scratch
    except ImportError:
        return
    Arena.release()
    release_scratch()


def peak_memory(run) -> int:
    forget_kept_memory()
    gc.collect()
    tracemalloc.start()
    try:
        out = run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del out
    return peak


def summary_of(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def machine():
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cores": os.cpu_count(), "processor": platform.processor() or platform.machine()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["processor"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("vssim", "simpy", "ciw", "numpy", "numba"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def benchmark(items: int, repeats: int, seed: int, memory: bool, engine_only: bool, log, peers: bool = True) -> dict:
    horizon = items / RATE
    spec = line_spec()
    engines = vssim_engines()
    # name -> factory(horizon, seed) -> (run, measure): run() is timed, measure(result) is not
    impls = {"vssim_simpy": lambda h, s: vssim_run(spec, h, s, "simpy")}
    if "fast" in engines:
        impls["vssim_fast"] = lambda h, s: vssim_run(spec, h, s, "fast")
    if engine_only:
        impls["vssim_simpy_engine_only"] = lambda h, s: vssim_engine_only(spec, h, s, "simpy")
        if "fast" in engines:
            impls["vssim_fast_engine_only"] = lambda h, s: vssim_engine_only(spec, h, s, "fast")
    if peers:
        try:
            import ciw  # noqa: F401
            impls["ciw"] = lambda h, s: ciw_run(h, s)
        except ImportError:
            log("ciw is not installed (pip install -e '.[bench]'): skipped")
        impls["minimal_simpy"] = lambda h, s: minimal_simpy_run(h, s)

    runs = {name: [] for name in impls}
    # one untimed warm-up run of each (imports, caches), on a short horizon; an implementation
    # that fails here (a fast engine still being written) is left out, not fatal
    warm_horizon = min(horizon, 500.0)
    for name in list(impls):
        try:
            run, _ = impls[name](warm_horizon, seed)
            run()
        except Exception as e:  # noqa: BLE001
            log(f"{name}: failed on a warm-up run ({type(e).__name__}: {e}); skipped")
            del impls[name], runs[name]

    total = repeats * len(impls)
    n = 0
    for r in range(repeats):
        order = list(impls.items())
        if r % 2:                        # every other round in reverse: no implementation always runs first
            order.reverse()
        for name, make in order:
            run, measure = make(horizon, seed + r)
            seconds, cpu, out = timed(run)
            item_steps, done, lead = measure(out)
            del out
            n += 1
            rate = item_steps / seconds
            runs[name].append({"seed": seed + r, "seconds": seconds, "cpu_seconds": cpu, "item_steps": item_steps,
                               "items_done": done, "mean_lead_time": lead, "item_steps_per_s": rate,
                               "item_steps_per_cpu_s": item_steps / cpu if cpu > 0 else None})
            log(f"[{n}/{total}] {name:<24} {seconds:7.3f} s (cpu {cpu:6.3f} s)  {item_steps:>7} item-steps  "
                f"{rate:>10,.0f} item-steps/s  lead time {lead:6.2f}")

    results = {}
    for name, rs in runs.items():
        rates = [x["item_steps_per_s"] for x in rs]
        leads = [x["mean_lead_time"] for x in rs]
        results[name] = {
            "item_steps_per_s": summary_of(rates),
            "item_steps_per_cpu_s": summary_of([x["item_steps_per_cpu_s"] or float("nan") for x in rs]),
            "seconds": summary_of([x["seconds"] for x in rs]),
            "item_steps": summary_of([x["item_steps"] for x in rs]),
            "mean_lead_time": statistics.fmean(leads),
            "mean_lead_time_runs": leads,
            "runs": rs,
        }
    if memory:
        for name, make in impls.items():
            run, measure = make(horizon, seed)
            log(f"[memory] {name}: one run under tracemalloc ...")
            peak = peak_memory(run)
            item_steps = statistics.median(x["item_steps"] for x in runs[name])
            results[name]["peak_mib_per_million_item_steps"] = peak / 2**20 / (item_steps / 1e6)
            results[name]["peak_mib"] = peak / 2**20

    def ratio(a, b):
        if a not in results or b not in results:
            return None
        # per round: the two runs were made one shortly after the other, so a drift in the
        # machine's speed between rounds cancels; the median over rounds is reported
        paired = [x["item_steps_per_s"] / y["item_steps_per_s"] for x, y in zip(runs[a], runs[b], strict=True)]
        cpu = [x["cpu_seconds"] and y["cpu_seconds"] and y["cpu_seconds"] / y["item_steps"] * x["item_steps"]
               / x["cpu_seconds"] for x, y in zip(runs[a], runs[b], strict=True)]
        return {"ratio": statistics.median(paired), "min": min(paired), "max": max(paired),
                "cpu_ratio": statistics.median(cpu)}

    ratios = {key: ratio(*key.split("/")) for key in
              ("vssim_simpy/ciw", "vssim_simpy/minimal_simpy", "vssim_fast/vssim_simpy",
               "vssim_fast_engine_only/vssim_simpy_engine_only", "vssim_simpy_engine_only/minimal_simpy",
               "vssim_simpy_engine_only/ciw", "ciw/minimal_simpy")}
    ratios = {k: v for k, v in ratios.items() if v is not None}
    goals = {k: {"goal": g, "measured": ratios[k]["ratio"], "met": ratios[k]["ratio"] >= g,
                 "measured_cpu": ratios[k]["cpu_ratio"], "met_cpu": ratios[k]["cpu_ratio"] >= g}
             for k, g in GOALS.items() if k in ratios}
    # the fast engine against the SimPy engine, the two ways it can be timed
    fast_vs_simpy = {label: ratios[key] | {"key": key, "goal": GOALS[key]}
                     for label, key in (("engine only", "vssim_fast_engine_only/vssim_simpy_engine_only"),
                                        ("through simulate", "vssim_fast/vssim_simpy")) if key in ratios}
    return {
        "benchmark": "line5",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "vssim_engines": list(engines),
        "setup": {"steps": STEPS, "arrival_rate": RATE, "work_mean": WORK_MEAN, "load": RATE * WORK_MEAN,
                  "items": items, "horizon": horizon, "repeats": repeats, "seed": seed,
                  "jackson_mean_lead_time": JACKSON_LEAD_TIME,
                  "vssim_timing": "vssim.simulate: engine + records + summary (what a user pays)",
                  "memory": "tracemalloc peak of one untimed run, MiB per million item-steps"},
        "results": results,
        "ratios": ratios,
        "goals": goals,
        "fast_vs_simpy": fast_vs_simpy,
    }


def print_report(res: dict) -> None:
    s = res["setup"]
    m = res["machine"]
    print(f"five-step serial line, load {s['load']:.0%}, horizon {s['horizon']:g} (~{s['items']} items), "
          f"{s['repeats']} runs each, interleaved")
    print(f"{m['processor']}, {m['cores']} cores, Python {m['python']}; "
          + ", ".join(f"{k} {v}" for k, v in res["versions"].items() if v))
    print()
    print(f"{'implementation':<26}{'item-steps/s median':>20}{'min':>10}{'max':>10}{'per CPU s':>11}"
          f"{'lead time':>11}{'MiB/M item-steps':>18}")
    for name, r in res["results"].items():
        rate = r["item_steps_per_s"]
        mem = r.get("peak_mib_per_million_item_steps")
        print(f"{name:<26}{rate['median']:>20,.0f}{rate['min']:>10,.0f}{rate['max']:>10,.0f}"
              f"{r['item_steps_per_cpu_s']['median']:>11,.0f}"
              f"{r['mean_lead_time']:>11.2f}{'' if mem is None else f'{mem:.1f}':>18}")
    print(f"(Jackson: mean lead time {s['jackson_mean_lead_time']:g}; a 20,000-item run has a standard "
          f"deviation of about 4 %, and starting empty biases it down a little)")
    print()
    print("ratios of item-steps per second, run by run in each round: median (min-max) over rounds on wall-clock "
          "time [median on CPU time]")
    for key, r in res["ratios"].items():
        goal = res["goals"].get(key)
        verdict = "" if goal is None else (f"   goal >= {goal['goal']:g}x: {'met' if goal['met'] else 'NOT met'}"
                                           f" [{'met' if goal['met_cpu'] else 'NOT met'}]")
        print(f"  {key:<48}{r['ratio']:8.2f}x  ({r['min']:.2f}-{r['max']:.2f})"
              f"  [{r['cpu_ratio']:.2f}x]{verdict}")
    if "vssim_fast" not in res["results"]:
        print(f"  (no fast engine in this vssim: engines {', '.join(res['vssim_engines'])})")
    fvs = res.get("fast_vs_simpy") or {}
    if fvs:
        print()
        print("fast engine / SimPy engine, item-steps per second (issue 6 goal: at least 100x):")
        what = {"engine only": "Plan.of + engine, records included",
                "through simulate": "vssim.simulate: engine, records and summary"}
        for label, r in fvs.items():
            rs = res["results"]
            a, b = r["key"].split("/")
            ms = [1e3 * rs[x]["seconds"]["median"] for x in (a, b)]
            print(f"  {label:<17}{r['ratio']:8.1f}x  ({r['min']:.1f}-{r['max']:.1f}; CPU {r['cpu_ratio']:.1f}x)  "
                  f"{'met' if r['ratio'] >= r['goal'] else 'NOT met'}   [{what[label]}: "
                  f"fast {ms[0]:.1f} ms, SimPy {ms[1]:.0f} ms a run, medians]")
    print()
    print("On a shared machine other processes stretch wall-clock times unevenly; CPU time is steadier.")
    print("vssim_simpy times vssim.simulate (engine, records and summary: what a user pays); "
          ""
          "*_engine_only times Plan.of + the engine (vssim.engines.registry.run_records), records included.")


def profile(items: int, seed: int, top: int, engine: str = "simpy") -> None:
    import cProfile
    import pstats

    import vssim

    spec = line_spec()
    horizon = items / RATE
    vssim.simulate(spec, horizon=min(horizon, 500.0), seed=seed, engine=engine, progress=False)   # warm up
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(20 if engine == "fast" else 1):    # a fast run takes milliseconds: 20 of them
        vssim.simulate(spec, horizon=horizon, seed=seed, engine=engine, progress=False)
    prof.disable()
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=20_000, help="items per run (horizon = items / 0.8); default 20000")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each implementation; default 5")
    ap.add_argument("--seed", type=int, default=1, help="seed of the first round (round r uses seed + r)")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of the table")
    ap.add_argument("--save", metavar="FILE", help="also write the JSON object to FILE")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    ap.add_argument("--no-engine-only", action="store_true", help="skip the vssim engine-only timing")
    ap.add_argument("--vssim-only", action="store_true",
                    help="only the vssim engines (no ciw, no minimal SimPy): the fast/SimPy ratios")
    ap.add_argument("--profile", action="store_true", help="cProfile vssim.simulate on this line and exit")
    ap.add_argument("--engine", choices=("simpy", "fast"), default="simpy",
                    help="the engine --profile runs (fast: 20 runs); default simpy")
    ap.add_argument("--top", type=int, default=25, help="rows of the profile; default 25")
    a = ap.parse_args(argv)
    if a.items < 1 or a.repeats < 1:
        ap.error("--items and --repeats must be positive")
    if a.profile:
        profile(a.items, a.seed, a.top, a.engine)
        return 0

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    res = benchmark(a.items, a.repeats, a.seed, memory=not a.no_memory, engine_only=not a.no_engine_only, log=log,
                    peers=not a.vssim_only)
    if a.save:
        with open(a.save, "w") as f:
            json.dump(res, f, indent=2)
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print_report(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
