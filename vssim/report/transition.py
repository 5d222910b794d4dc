"""The report's section on a reorganisation in time: the answer first (break-even, dip, gain a year
later), its warnings, the transition figure and the sensitivity to the learning curve
(`vssim.analysis.transition`; docs/metrics.md, "Transitions")."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from vssim.analysis.transition import WORSE, Dip, Estimate, TransitionEffect, unit_name
from vssim.formatting import MISSING, finite, interval, number, plural
from vssim.report.figures.transition import transition_figure


def _weeks(effect: TransitionEffect) -> bool:
    return unit_name(effect.time_unit) == "day"


def span(t, effect: TransitionEffect) -> str:
    """A duration as a manager reads it: weeks for a stream in days ("3.4 weeks"), else its unit."""
    if not finite(t):
        return MISSING
    if _weeks(effect):
        return f"{number(t / 7)} {plural('week', t / 7)}"
    return f"{number(t)} {plural(effect.time_unit, t)}"


def _span_ci(e: Estimate, effect: TransitionEffect) -> str:
    k = 7.0 if _weeks(effect) else 1.0
    return interval(e.lo / k, e.hi / k)


def _period_name(effect: TransitionEffect) -> str:
    return "week" if _weeks(effect) and effect.period == 7 else "period"


def _unit_of(x, unit: str) -> str:
    """A time unit in the plural unless about one ("days", "day"); a rate ("items/day") as it is."""
    return unit if "/" in unit else plural(unit, abs(x))


def _amount(x, unit: str) -> str:
    return f"{number(abs(x))} {_unit_of(x, unit)}" if finite(x) else MISSING


def _signed(x) -> str:
    return ("+" if finite(x) and x >= 0 else "") + number(x)


def _big(x) -> str:
    """An amount of item-time or a time: whole numbers from 1000 on (12345, not 1.23e+04)."""
    return f"{x:.0f}" if finite(x) and abs(x) >= 1000 else number(x)


def _capital(text: str) -> str:
    """The first letter upper case, past any Markdown emphasis."""
    k = len(text) - len(text.lstrip("*_"))
    return text[:k] + text[k:k + 1].upper() + text[k + 1:]


def _break_even_text(effect: TransitionEffect) -> tuple[str, list[str]]:
    be = effect.break_even
    what = ("the cumulative lead time saved turns positive for good" if be.measure == "lead_time_saved"
            else "the reorganised stream's deliveries since the change stay ahead of the baseline's")
    if be.mean is not None:
        ci = _span_ci(be.mean, effect)
        return (f"**break-even {span(be.mean.mean, effect)} after the change** (95 % CI {ci} "
                f"{'weeks' if _weeks(effect) else plural(effect.time_unit)}; in every one of {be.n} replications "
                f"{what})"), []
    warn = (f"Not within the horizon in {be.n - be.reached} of {be.n} replications"
            + (f" ({what} in only {be.reached})" if be.reached else "") + ": no interval is given for the break-even.")
    if be.median is not None:
        return (f"**break-even after {span(be.median, effect)}** (the median over replications; "
                f"not within the horizon in {be.n - be.reached} of {be.n})"), [warn]
    return (f"**no break-even within the horizon** in {be.n - be.reached} of {be.n} replications (half or more: "
            "no median either)"), [warn]


_WORDS = {"lead_time_p85": ("p85 lead time", "longer", "shorter"), "throughput": ("throughput", "lower", "higher")}


def _dip_text(d: Dip, effect: TransitionEffect) -> tuple[str, list[str]]:
    what, worse, better = _WORDS[d.metric]
    unit = f"items/{effect.time_unit}" if d.metric == "throughput" else effect.time_unit
    e = d.estimate
    if d.period is None or not finite(e.mean):
        return f"no {what} to compare after the change", []
    where = f"in {_period_name(effect)} {d.after} after the change ({plural(effect.time_unit)} {_big(d.start)}–" \
            f"{_big(d.end)})"
    amount = _amount(e.mean, unit)
    ci = interval(e.lo, e.hi)
    signed = e.mean * WORSE[d.metric]                       # > 0: worse
    if e.significant and signed > 0:
        return f"a dip of **{amount} {worse}** {what} {where} (95 % CI of the difference {ci})", []
    if e.significant:
        return f"no dip in {what}: even its worst {_period_name(effect)} after the change is {amount} {better} " \
               f"({where}; 95 % CI {ci})", []
    return (f"no significant dip in {what} (its worst {_period_name(effect)} after the change: "
            f"difference {_signed(e.mean)} {_unit_of(e.mean, unit)}, 95 % CI {ci}, {where})",
            [f"The dip in {what} is not significant: its 95 % interval covers 0."])


def _gain_text(effect: TransitionEffect) -> tuple[str, list[str]]:
    g = effect.gain
    unit = effect.time_unit
    if g is None:
        return "no gain to measure: the runs end before the change", []
    later = "a year later" if g.end >= effect.at + effect.year - 1e-9 else \
        f"at the horizon ({span(g.end - effect.at, effect)} after the change)"
    lt = g.lead_time
    direction = "shorter" if lt.mean < 0 else "longer"
    text = (f"**mean lead time {_amount(lt.mean, unit)} {direction} {later}** (items done in {plural(unit)} "
            f"{_big(g.start)}–{_big(g.end)}; 95 % CI of the difference {interval(lt.lo, lt.hi)})")
    warns = [] if lt.significant else [f"The change of lead time {later} is not significant: its 95 % interval "
                                       "covers 0."]
    return text, warns


def answer(effect: TransitionEffect) -> tuple[str, list[str]]:
    """The answer in one sentence, and its warnings."""
    be, be_warn = _break_even_text(effect)
    dip, dip_warn = _dip_text(effect.dip_lead_time, effect)
    gain, gain_warn = _gain_text(effect)
    sentence = f"{_capital(be)}; {dip}; {gain}."
    warns = be_warn + dip_warn + gain_warn
    if not effect.common_random_numbers:
        warns.append("The replications do not share their seeds with the baseline's: the differences are not on "
                     "common random numbers, and their intervals are wide.")
    return sentence, warns


def transition_section(effect: TransitionEffect, out: Path | None = None, *, figures: bool = True,
                       sensitivity: pd.DataFrame | None = None, name: str = "",
                       heading: str = "## The reorganisation in time", figure: str = "transition.png") -> list[str]:
    """Markdown lines (and the figure `figure` in `out`) for a transition against its baseline."""
    unit = effect.time_unit
    if effect.at >= effect.horizon:
        return [heading, "", f"The reorganisation at {_big(effect.at)} {plural(unit, effect.at)} comes after the "
                f"end of the runs ({_big(effect.horizon)} {plural(unit, effect.horizon)}): there is nothing after it "
                "to compare.", ""]
    sentence, warns = answer(effect)
    tput, tput_warn = _dip_text(effect.dip_throughput, effect)
    lines = [heading, "", sentence, "", f"Throughput: {tput}.", ""]
    warns += tput_warn
    lines += [f"> **Warning.** {w}" for w in warns] + ([""] if warns else [])
    per = _period_name(effect)
    paired = ("each paired with the baseline's replication of the same seed (common random numbers)"
              if effect.common_random_numbers else "each paired with the baseline's replication of the same index")
    n = effect.replications
    lines += [f"The reorganisation happens at {_big(effect.at)} {plural(unit, effect.at)}; {n} "
              f"{'replication' if n == 1 else 'replications'}, {paired}. Curves per {per} ({number(effect.period)} "
              f"{plural(unit, effect.period)}); horizon {_big(effect.horizon)} {plural(unit, effect.horizon)}.", ""]
    lines += _details(effect)
    if figures and out is not None:
        path = transition_figure(effect, Path(out) / figure,
                                 title=f"{name}: the reorganisation at {_big(effect.at)} {plural(unit)}"
                                 if name else None)
        lines += [f"![the reorganisation in time]({path.name})", ""]
    if sensitivity is not None and len(sensitivity):
        lines += sensitivity_table(sensitivity, effect)
    return lines


def _details(effect: TransitionEffect) -> list[str]:
    unit = effect.time_unit
    d, t = effect.dip_lead_time, effect.dip_throughput
    rows = ["| measure | transition − baseline | 95 % CI | replications |", "|---|---|---|---|"]

    def row(label: str, e: Estimate) -> None:
        big = label.startswith("lead time saved")
        rows.append(f"| {label} | {_big(e.mean) if big else number(e.mean)} | "
                    f"{f'{_big(e.lo)} to {_big(e.hi)}' if big and finite(e.lo) else interval(e.lo, e.hi)} | {e.n} |")

    if d.period is not None:
        row(f"p85 lead time, worst {_period_name(effect)} after the change ({_big(d.start)}–{_big(d.end)}), "
            f"{plural(unit)}", d.estimate)
    if t.period is not None:
        row(f"throughput, worst {_period_name(effect)} after the change ({_big(t.start)}–{_big(t.end)}), "
            f"items/{unit}", t.estimate)
    g = effect.gain
    if g is not None:
        window = f"{_big(g.start)}–{_big(g.end)}"
        row(f"mean lead time, items done {window}, {plural(unit)}", g.lead_time)
        row(f"p85 lead time, items done {window}, {plural(unit)}", g.lead_time_p85)
        row(f"throughput {window}, items/{unit}", g.throughput)
        row(f"lead time saved by {_big(g.end)} (S), item-{plural(unit)}", g.saved)
        row(f"items delivered since the change by {_big(g.end)} (D)", g.delivered)
    bias = (f"the worst of many periods, measured on the replications that chose it, is biased away from 0 "
            f"(measured on all of them the p85 dip reads {number(d.naive.mean)}, 95 % CI "
            f"{interval(d.naive.lo, d.naive.hi)})" if d.split else "it is biased away from 0")
    notes = [f"The worst {_period_name(effect)} is {d.method}: {bias}.",
             "S is the lead time saved since the change, ∫ (WIP of the baseline − WIP reorganised) dt (Little's law); "
             "D the items delivered since the change, reorganised − baseline. "
             + ("The break-even reads S: in a stable open stream both deliver the arrival rate."
                if effect.break_even.measure == "lead_time_saved"
                else "The break-even reads D: the stream is saturated or works a backlog.")]
    return rows + [""] + notes + [""]


def sensitivity_table(table: pd.DataFrame, effect: TransitionEffect) -> list[str]:
    """The sensitivity to the learning curve: a row per (p0, R)."""
    unit = effect.time_unit
    k = 7.0 if _weeks(effect) else 1.0
    when = "weeks" if _weeks(effect) else plural(unit)
    lines = ["### How much the answer depends on the learning curve", "",
             "Each row runs the same reorganisation with people who changed team starting at p0 × their speed and "
             f"reaching full speed after R {plural(unit)}.", "",
             f"| p0 | R ({plural(unit)}) | break-even ({when}) | 95 % CI | broke even | p85 dip ({plural(unit)}) "
             f"| Δ mean lead time ({plural(unit)}) | 95 % CI | lead time saved (item-{plural(unit)}) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples(index=False):
        be = r.break_even if finite(r.break_even) else r.break_even_median
        be_text = number(be / k) + ("" if finite(r.break_even) or not finite(be) else " (median)")
        lines.append(f"| {number(r.productivity)} | {number(r.ramp)} | {be_text} "
                     f"| {interval(r.break_even_lo / k, r.break_even_hi / k)} | {r.reached} of {r.replications} "
                     f"| {number(r.dip_lead_time_p85)} | {number(r.gain_lead_time)} "
                     f"| {interval(r.gain_lead_time_lo, r.gain_lead_time_hi)} | {_big(r.saved)} |")
    return lines + [""]
