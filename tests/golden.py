"""Golden digests: the sample paths of every shipped stream, experiment preset and a fixed set of
random streams, as sha256 digests of what a user gets (summary.json, items.parquet, steps.parquet,
events.csv, comparison tables).

`tests/test_golden.py` recomputes every digest and compares it with `tests/golden.json`. A change
that alters a number on purpose (a model change) updates the file in a commit of its own, saying
why:

    .venv/bin/python tests/golden.py            # rewrite the digests of the stored cases
    .venv/bin/python tests/golden.py --check    # only compare (what the test does), list the differences

The random streams are stored in the golden file itself (drawn once from the stream builders of
tests/test_invariants.py and tests/test_maxplus.py), so that a change to those builders does not
change the cases.
"""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOLDEN = HERE / "golden.json"
STREAMS = ROOT / "configs" / "stream"

SHIPPED_SIM = {"horizon": 400.0, "warmup": 40.0, "replications": 2, "seed": 3}
"""Settings of the shipped-stream cases (open streams; finite ones run until done)."""
LONG_SIM = {"horizon": 12000.0, "warmup": 1000.0, "replications": 1, "seed": 5}
"""A longer run, so that streaming statistics flush several slices and blocks."""
EXPERIMENT_OVERRIDES = ["sim.horizon=300", "sim.warmup=30", "sim.replications=2", "report.figures=false"]
"""Every preset at a small horizon (penny_game keeps its run-until-done settings)."""
SWEEP_POINTS = {"wip_sweep": ["stream.release.conwip=3,7", "hydra/launcher=basic"],
                "wip_optimise": ["hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=1", "hydra/launcher=basic"]}
"""The sweeps run small: two points each, one after the other."""


# --------------------------------------------------------------------------- digests
def frame_digest(df: pd.DataFrame) -> str:
    """sha256 of a frame's content: column names, dtypes and values, bit for bit (not the
    Parquet file's bytes, which carry the writer's version)."""
    h = hashlib.sha256()
    h.update(repr(len(df)).encode())
    for name in df.columns:
        col = df[name]
        h.update(f"\x1e{name}\x1f{_kind(col.dtype)}".encode())
        if isinstance(col.dtype, pd.CategoricalDtype):
            h.update("\x1f".join(map(str, col.cat.categories)).encode())
            h.update(np.ascontiguousarray(col.cat.codes.to_numpy()).tobytes())
        elif isinstance(col.dtype, np.dtype) and col.dtype.kind in "biufcmM":
            h.update(np.ascontiguousarray(col.to_numpy()).tobytes())
        else:                               # objects and strings: their text, not their pointers
            h.update("\x1f".join(map(repr, col.tolist())).encode())
    return h.hexdigest()


def _kind(dtype) -> str:
    """A column's type as the digest sees it: text is text, whether pandas calls it `object` (pandas 2)
    or `str` (pandas 3), so that the digests do not depend on the pandas a machine has."""
    if isinstance(dtype, pd.CategoricalDtype) or (isinstance(dtype, np.dtype) and dtype.kind in "biufcmM"):
        return str(dtype)
    return "text"


def file_digests(directory: Path) -> dict[str, str]:
    """Digests of a run or experiment directory's result files, by relative path."""
    out = {}
    for p in sorted(directory.rglob("*")):
        rel = p.relative_to(directory).as_posix()
        if not p.is_file() or "/." in f"/{rel}":
            continue
        if p.suffix == ".parquet":
            out[rel] = frame_digest(pd.read_parquet(p))
        elif p.name in ("summary.json", "comparison.json", "events.csv"):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# --------------------------------------------------------------------------- cases
ENGINES = ("simpy", "fast")
STATS = ("full", "streaming")


def shipped_cases() -> list[dict]:
    """Every shipped stream x each engine x full and streaming statistics (those a stream refuses
    are left out when the case runs: `refused`)."""
    cases = []
    for f in sorted(STREAMS.glob("*.yaml")):
        for engine in ENGINES:
            for stats in STATS:
                cases.append({"name": f"stream/{f.stem}/{engine}/{stats}", "stream_file": f.name,
                              "sim": {**SHIPPED_SIM, "engine": engine, "stats": stats}})
    for stem in ("mm1", "dvs_basic"):
        cases.append({"name": f"stream/{stem}/simpy/streaming/long", "stream_file": f"{stem}.yaml",
                      "sim": {**LONG_SIM, "engine": "simpy", "stats": "streaming"}})
    cases.append({"name": "stream/mm1/fast/streaming/long", "stream_file": "mm1.yaml",
                  "sim": {**LONG_SIM, "horizon": 60000.0, "engine": "fast", "stats": "streaming"}})
    return cases


def random_cases() -> list[dict]:
    """A dozen random streams of each builder (drawn once; stored with their digests)."""
    sys.path.insert(0, str(HERE))
    from test_invariants import NumpyChooser, build_stream
    from test_maxplus import build_qualifying

    cases = []
    for seed in range(12):
        d, sim = build_stream(NumpyChooser(1000 + seed))
        cases.append({"name": f"random/invariants/{seed}", "stream": d, "sim": sim})
    for seed in range(12):
        d, sim = build_qualifying(NumpyChooser(2000 + seed))
        cases.append({"name": f"random/fast/{seed}", "stream": d, "sim": sim, "engines": list(ENGINES)})
    return cases


def experiment_cases() -> list[dict]:
    """Every preset through the command line, at a small horizon; the sweeps at two points each."""
    cases = []
    for n in sorted(p.stem for p in (ROOT / "configs" / "experiment").glob("*.yaml")):
        points = SWEEP_POINTS.get(n, [])
        args = ["-m"] * bool(points) + [f"experiment={n}"] + ([] if n == "penny_game" else EXPERIMENT_OVERRIDES)
        cases.append({"name": f"experiment/{n}", "argv": args + points})
    return cases


# --------------------------------------------------------------------------- running them
def _simulate_case(spec, sim: dict) -> dict[str, str]:
    import vssim

    kw = {k: v for k, v in sim.items() if k in ("horizon", "warmup", "replications", "seed", "engine", "stats")}
    if spec.arrivals.finite:
        kw.update(horizon=None, warmup=0.0)
    try:
        result = vssim.simulate(spec, progress=False, **kw)
    except vssim.SpecError as e:
        if e.path in ("sim.engine", "sim.stats"):
            return {"refused": "sim"}     # the engine cannot run it, or the stream cannot stream (either first)
        raise
    except vssim.DeadlockError as e:   # a deadlock is part of the golden behaviour
        return {"error": hashlib.sha256(f"{type(e).__name__}: {e}".encode()).hexdigest()}
    with tempfile.TemporaryDirectory() as tmp:
        result.save(tmp)
        return file_digests(Path(tmp))


def run_case(case: dict) -> dict[str, str]:
    """The digests of one case."""
    import vssim

    if "argv" in case:
        return _command(case["argv"])
    if "stream_file" in case:
        return _simulate_case(vssim.load_stream(STREAMS / case["stream_file"]), case["sim"])
    spec = vssim.StreamSpec.from_dict(case["stream"])
    out = {}
    for engine in case.get("engines", ["simpy"]):
        for stats in STATS:
            sim = {**case["sim"], "engine": engine, "stats": stats}
            for k, v in _simulate_case(spec, sim).items():
                out[f"{engine}/{stats}/{k}"] = v
    return out


def _command(argv: list[str]) -> dict[str, str]:
    """Run `vssim ARGV` (the installed command) into a fresh directory; the digests of what it wrote."""
    import os
    import subprocess

    exe = Path(sys.executable).parent / "vssim"
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "MPLBACKEND": "Agg", "HYDRA_FULL_ERROR": "1", "PYTHONPATH": path}   # this checkout's vssim
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        where = f"hydra.sweep.dir={out}" if "-m" in argv else f"hydra.run.dir={out}"
        proc = subprocess.run([str(exe), *argv, where, "sim.progress=false"], cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode:
            raise RuntimeError(f"vssim {' '.join(argv)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return file_digests(out)


def all_cases(stored: list[dict] | None = None) -> list[dict]:
    """The cases: the stored random streams (drawn afresh only when there are none) and the rest."""
    rand = [c for c in (stored or []) if c["name"].startswith("random/")] or random_cases()
    return shipped_cases() + experiment_cases() + [{k: v for k, v in c.items() if k != "digests"} for c in rand]


def load() -> list[dict]:
    return json.loads(GOLDEN.read_text())["cases"] if GOLDEN.is_file() else []


def main(argv: list[str]) -> int:
    import matplotlib

    matplotlib.use("Agg")
    stored = load()
    want = {c["name"]: c.get("digests") for c in stored}
    cases = all_cases(stored)
    diffs = 0
    for case in cases:
        case["digests"] = run_case(case)
        if case["name"] in want and want[case["name"]] != case["digests"]:
            diffs += 1
            print(f"changed: {case['name']}")
        elif case["name"] not in want:
            print(f"new: {case['name']}")
    if "--check" in argv:
        print(f"{diffs} of {len(cases)} cases differ")
        return 1 if diffs else 0
    text = json.dumps({"about": "tests/golden.py: sha256 digests of sample paths; regenerate only for a deliberate "
                                "change of the simulated numbers, in a commit that says why",
                       "cases": cases}, indent=1, sort_keys=False)
    GOLDEN.write_text(text + "\n")
    print(f"wrote {GOLDEN} ({len(cases)} cases, {diffs} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
