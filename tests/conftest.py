"""Shared test helpers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
