"""Numbers as people read them (vssim.formatting): one rule per kind of number, "n/a" for what is missing."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vssim.formatting import MISSING, change, finite, fixed, interval, number, percent, plural, rounded, with_ci

NOT_THERE = [None, math.nan, math.inf, -math.inf, np.float64("nan"), "text"]


@pytest.mark.parametrize("x", NOT_THERE)
def test_what_is_missing_reads_na_everywhere(x):
    assert not finite(x)
    assert number(x) == percent(x) == rounded(x) == fixed(x) == change(x) == MISSING == "n/a"
    assert interval(x, 1.0) == interval(1.0, x) == MISSING
    assert with_ci(1.5, x, 2.0) == "1.5"


def test_number_has_significant_digits():
    assert [number(x) for x in (12.345, 0.0123456, 7, 2.0, 123456.0, np.int64(5))] == \
        ["12.3", "0.0123", "7", "2", "1.23e+05", "5"]
    assert number(1.23456, 4) == "1.235"
    for x in np.random.default_rng(0).lognormal(0, 3, 200):       # what the reports wrote before
        assert number(x) == f"{x:.3g}" and number(x, 4) == f"{x:.4g}"


def test_percent_of_a_fraction():
    assert (percent(0.364), percent(1), percent(0.0555, 1)) == ("36 %", "100 %", "5.5 %")
    for x in np.random.default_rng(1).random(200):
        assert percent(x) == f"{x:.0%}".replace("%", " %")


def test_fixed_decimals_for_tables():
    assert [fixed(x) for x in (123.4, 12.34, 1.5, 0.25, -0.5)] == ["123", "12.3", "1.50", "0.250", "−0.500"]
    assert fixed(0.031, in_percent=True, signed=True) == "+3.10"


def test_change_never_reads_zero_when_it_is_not():
    assert (change(4.24), change(-12.0), change(0.0), change(0.04), change(-0.004)) == \
        ("+4.2 %", "-12.0 %", "+0.0 %", "+0.04 %", "-0.00 %")
    assert (change(-30.0, digits=0), change(0.4, digits=0)) == ("-30 %", "+0.4 %")


def test_intervals_and_values_with_them():
    assert interval(1.2, 1.5) == "1.2 to 1.5"
    assert interval(0.25, 0.5, in_percent=True) == "25 % to 50 %"
    assert with_ci(1.23456, 1.2, 1.26, 4) == "1.235 (95 % CI 1.2 to 1.26)"


def test_rounded_amounts_and_units():
    assert (rounded(4.0), rounded(0.25), rounded(12.34)) == ("4.0", "0.25", "12.3")
    assert (plural("day"), plural("day", 1.02), plural("day", 2.0), plural("hours")) == \
        ("days", "day", "days", "hours")
