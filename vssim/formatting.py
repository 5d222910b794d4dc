"""Numbers as people read them: every number vssim writes into prose, a table, a figure label or
a line on the terminal is formatted here, so that a value reads the same in report.md, in a
figure and in the command's output.

Decision: this module sits at the bottom of the layers, beside `errors` and `files`, not in
`vssim/report`: the analysis layer writes text for people too (the bottleneck findings, the
comparison table) and sits below report, and run and cli print numbers as well. It holds text
only; saved results (summary.json, comparison.json, the parquet tables) keep the numbers.

Missing values (None, NaN, infinities) read "n/a" everywhere.
"""
from __future__ import annotations

import math

__all__ = ["MISSING", "change", "finite", "fixed", "interval", "number", "percent", "plural", "rounded", "with_ci"]

MISSING = "n/a"
"""What a value that is not there reads."""


def finite(x) -> bool:
    """A number that can be shown: not None, not NaN, not infinite."""
    try:
        return math.isfinite(x)
    except TypeError:
        return False


def number(x, digits: int = 3) -> str:
    """`digits` significant digits (12.3, 0.456, 7): prose, table cells and figure labels."""
    return f"{float(x):.{digits}g}" if finite(x) else MISSING


def percent(x, digits: int = 0) -> str:
    """A fraction as a percentage: 0.364 reads "36 %"."""
    return f"{100 * float(x):.{digits}f} %" if finite(x) else MISSING


def rounded(x) -> str:
    """One decimal, two below 1 (4.0, 0.25): an amount quoted in a sentence ("about 4.0 days")."""
    if not finite(x):
        return MISSING
    return f"{x:.2f}" if abs(x) < 1 else f"{x:.1f}"


def fixed(x, *, in_percent: bool = False, signed: bool = False) -> str:
    """Three significant digits as fixed decimals, trailing zeros kept (12.0, 1.50, 0.250) and a
    true minus sign: the cells of a table whose rows are read against each other. `in_percent`:
    a fraction shown in percent (in points, for a difference)."""
    if not finite(x):
        return MISSING
    x = float(x) * (100.0 if in_percent else 1.0)
    size = abs(x)
    decimals = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    text = f"{x:+.{decimals}f}" if signed else f"{x:.{decimals}f}"
    return text.replace("-", "−")


def change(pct, digits: int = 1) -> str:
    """A signed % change ("+4.2 %"), with one more decimal when a change that is not zero would
    otherwise read as zero ("+0.04 %", never "+0.0 %")."""
    if not finite(pct):
        return MISSING
    if 0 < abs(pct) < 10.0 ** -digits:
        digits += 1
    return f"{pct:+.{digits}f} %"


def interval(lo, hi, digits: int = 3, *, in_percent: bool = False) -> str:
    """The bounds of an interval, "1.2 to 1.5" (fractions as percentages with `in_percent`)."""
    if not (finite(lo) and finite(hi)):
        return MISSING
    if in_percent:
        return f"{percent(lo)} to {percent(hi)}"
    return f"{number(lo, digits)} to {number(hi, digits)}"


def with_ci(value, lo, hi, digits: int = 3) -> str:
    """A value with its interval, "1.23 (95 % CI 1.2 to 1.26)", or the value alone without one."""
    ci = interval(lo, hi, digits)
    return number(value, digits) + ("" if ci == MISSING else f" (95 % CI {ci})")


def plural(unit: str, amount: float | None = None) -> str:
    """A time unit for an amount of it: "days", or "day" for about one."""
    if amount is not None and abs(amount - 1.0) < 0.05:
        return unit
    return unit if unit.endswith("s") else unit + "s"
