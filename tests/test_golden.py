"""The golden sample paths: every shipped stream, experiment preset and stored random stream gives
the same summary.json, items, steps, event log and comparison tables, bit for bit, as recorded in
tests/golden.json (tests/golden.py says how the digests are made and how to update them after a
deliberate change of the simulated numbers)."""
from __future__ import annotations

import golden
import matplotlib
import pytest

matplotlib.use("Agg")

STORED = golden.load()
UPDATE = "a deliberate change of the numbers updates tests/golden.json: .venv/bin/python tests/golden.py"


def test_the_golden_file_covers_every_case():
    """A new shipped stream or preset gets its digests recorded; no stored case goes missing."""
    assert STORED, "tests/golden.json is missing"
    want = [c["name"] for c in golden.all_cases(STORED)]
    have = [c["name"] for c in STORED]
    assert sorted(want) == sorted(have), f"cases differ from tests/golden.json ({UPDATE})"


def test_the_digests_see_a_changed_number(tmp_path):
    """The digest of a frame changes when one value changes in its last bit."""
    import numpy as np
    import pandas as pd

    df = pd.DataFrame({"a": np.array([1.0, 2.0]), "s": ["x", "y"]})
    same = pd.DataFrame({"a": np.array([1.0, 2.0]), "s": ["x", "y"]})
    other = pd.DataFrame({"a": np.array([1.0, np.nextafter(2.0, 3.0)]), "s": ["x", "y"]})
    assert golden.frame_digest(df) == golden.frame_digest(same)
    assert golden.frame_digest(df) != golden.frame_digest(other)
    assert golden.frame_digest(df) != golden.frame_digest(df.assign(s=["x", "z"]))


@pytest.mark.parametrize("case", STORED, ids=[c["name"] for c in STORED])
def test_same_numbers_bit_for_bit(case):
    got = golden.run_case(case)
    changed = sorted(k for k in set(got) | set(case["digests"]) if got.get(k) != case["digests"].get(k))
    assert not changed, f"{case['name']}: {', '.join(changed)} changed ({UPDATE}, in a commit that says why)"
