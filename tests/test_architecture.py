"""The layers of docs/architecture.md, held by import-linter (pyproject.toml): the contracts are
kept by the tree, and a forbidden import on purpose breaks them (so they are not vacuous)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (the dev extra has it)")


def lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=tree, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, timeout=300)


def test_the_tree_keeps_every_contract():
    out = lint(ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " 0 broken" in out.stdout.split("Contracts:")[-1].splitlines()[0], out.stdout[-2000:]


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("vssim/engines/random.py", "import vssim.analysis.summary", "Data flows one way"),
    ("vssim/analysis/compare.py", "import vssim.engines.registry", "Analysis reads records, never engines"),
    ("vssim/records.py", "import vssim.engines.random", "Data flows one way"),
    ("vssim/model/spec.py", "import omegaconf", "Only the command line imports Hydra"),
    ("vssim/run/simulate.py", "import vssim.cli", "Nothing imports the command line"),
    ("vssim/engines/simpy/engine.py", "import vssim.engines.maxplus.runs", "Engines plug into the registry"),
])
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, line, contract):
    for part in ("vssim", "configs"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa: E402, F401\n")
    out = lint(tmp_path)
    assert out.returncode != 0, out.stdout[-2000:]
    broken = out.stdout.split("Broken contracts")[-1]
    assert contract in broken, out.stdout[-3000:]
