"""Shared test helpers."""
from __future__ import annotations

import contextlib
import copy
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import vssim


def simulate_dict(d: dict, **sim) -> vssim.SimResult:
    """Validate a stream mapping and simulate it (no progress bar)."""
    sim.setdefault("progress", False)
    return vssim.simulate(vssim.StreamSpec.from_dict(d), **sim)


@pytest.fixture(scope="session")
def run():
    """`run(d, **sim)`: simulate a stream dict with `vssim.simulate` keyword arguments."""
    return simulate_dict


def run_cli_parallel(commands: dict[str, list[str]], base: Path, timeout: float = 120) -> dict:
    """Start every `vssim` command at once (one process each) and wait for all of them.

    Each writes into base/NAME (the sweep directory when the command has -m). Returns
    name -> (CompletedProcess, output directory).
    """
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "MPLBACKEND": "Agg"}
    started = {}
    for name, args in commands.items():
        out = base / name
        where = f"hydra.sweep.dir={out}" if "-m" in args else f"hydra.run.dir={out}"
        argv = [sys.executable, "-m", "vssim.cli", *args, where]
        proc = subprocess.Popen(argv, cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started[name] = (argv, proc, out)
    results = {}
    for name, (argv, proc, out) in started.items():
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        results[name] = (subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr), out)
    return results


def cli_ok(results: dict, name: str) -> Path:
    """The output directory of a command that must have succeeded without a traceback."""
    proc, out = results[name]
    assert proc.returncode == 0, f"{name}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return out


# ------------------------------------------------------- bad input: test_spec, test_settings, test_deadlock
CONFIGS = Path(__file__).resolve().parent.parent / "configs"
BASE = yaml.safe_load((CONFIGS / "stream" / "dvs_basic.yaml").read_text())
BACKLOG = {"process": "backlog", "count": 20}


def broken(changes: dict) -> dict:
    """A deep copy of the valid base stream with `changes` ({dotted.path: value}) applied."""
    d = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = d
        for key in parents:
            node = node[key]
        node[last] = value
    return d


def assert_one_line(err: BaseException, path: str, got: str, allowed: str) -> str:
    msg = str(err)
    assert "\n" not in msg, msg
    assert msg.startswith(f"{path}: "), msg
    assert got in msg, msg
    assert allowed in msg, msg
    return msg


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (pytest-timeout is not installed)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def _expired(signum, frame):
        raise TimeoutError(f"no result within {seconds} s: the simulation hangs")

    old = signal.signal(signal.SIGALRM, _expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def loop_stream(arrivals: dict, *, to: str = "build", release: dict | None = None) -> dict:
    """build (wip 1) -> validate (wip 1), half of the validated items go back to `to`."""
    d = {
        "name": "loop",
        "arrivals": arrivals,
        "pools": {"devs": 1, "testers": 1},
        "steps": {
            "build": {"pool": "devs", "work": {"dist": "exponential", "mean": 1.0}, "wip_limit": 1},
            "validate": {
                "pool": "testers",
                "work": {"dist": "exponential", "mean": 1.0},
                "wip_limit": 1,
                "rework": {"probability": 0.5, "to": to},
            },
        },
    }
    if release is not None:
        d["release"] = release
    return d
