"""The fidelity section of a calibration report (Markdown): the five distances of
`vssim.analysis.fidelity.distances`, mean ± sd over the simulated logs, for the model and each
baseline side by side, and the figures of `vssim.report.figures.fidelity`."""
from __future__ import annotations

import math
from collections.abc import Mapping

from vssim.analysis.fidelity import MEASURES
from vssim.formatting import MISSING, number

LABELS = {
    "ngram_3": ("3-gram distribution distance", "share, 0–1"),
    "absolute_event": ("absolute event distribution (EMD)", "hours"),
    "circadian_event": ("circadian event distribution (EMD)", "hours"),
    "relative_event": ("relative event distribution (EMD)", "hours"),
    "cycle_time": ("cycle-time distribution (EMD)", "hours"),
}


def _cell(measure: Mapping) -> str:
    mean, sd = measure["mean"], measure.get("sd", math.nan)
    if sd is None or not math.isfinite(sd):
        return number(mean)
    return f"{number(mean)} ± {number(sd, 2)}"


def fidelity_table(result: Mapping[str, Mapping]) -> str:
    """Markdown table: one row per measure, one column per model (`result` maps a model's name to
    its `distances` dict); lower is closer to the real log."""
    names = list(result)
    lines = ["| measure | unit | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for key in MEASURES:
        label, unit = LABELS[key]
        cells = [_cell(result[n][key]) if key in result[n] else MISSING for n in names]
        lines.append(f"| {label} (`{key}`) | {unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fidelity_section(result: Mapping[str, Mapping], figures: Mapping[str, str] | None = None,
                     title: str = "## Fidelity") -> str:
    """The section: what was compared, the table, and the figures (`figures` maps lead_time,
    throughput, wip to paths relative to the report)."""
    n = {name: len(next(iter(d.values()))["values"]) for name, d in result.items() if d}
    counts = ", ".join(f"{name}: {k} log{'s' if k != 1 else ''}" for name, k in n.items())
    lines = [title, "",
             "Distances between the held-out log and each simulated log (mean ± sd over the logs; "
             f"{counts}), computed with the `log-distance-measures` package with the options of Simod's "
             "evaluation: 3-grams; start and end timestamps in hourly bins; cycle times in 1-hour bins. "
             "Lower is closer; 0 is the real log itself.", "",
             fidelity_table(result), ""]
    captions = {"lead_time": "Lead-time percentiles", "throughput": "Weekly throughput", "wip": "Work in progress"}
    for key, path in (figures or {}).items():
        lines += [f"![{captions.get(key, key)}]({path})", ""]
    return "\n".join(lines)
