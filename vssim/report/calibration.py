"""report.md of a calibration: the answer first (how close the fitted stream comes to the held-out
months, against two baselines), its warnings, then the figures and where the numbers came from."""
from __future__ import annotations

from pathlib import Path

from vssim.files import write_atomic
from vssim.formatting import number
from vssim.report.fidelity import fidelity_section
from vssim.report.figures.fidelity import fidelity_figures


def _closest(cal) -> list[str]:
    """One line per measure: which model is closest to the held-out log."""
    models = {"vssim": cal.fidelity, **cal.baselines}
    lines = []
    for key in cal.fidelity:
        best = min(models, key=lambda m: models[m][key]["mean"])
        lines.append(f"{key}: {best}")
    return lines


def report_text(cal, figures: dict[str, str] | None = None) -> str:
    """The markdown (figures: relative paths by key)."""
    f = cal.fidelity
    lines = [f"# Calibration of {cal.source or 'a log'}", "",
             f"A stream fitted on the first {cal.n_train:,} cases (by first event, up to "
             f"{cal.split_at:%Y-%m-%d %H:%M %Z}) and held against the next {cal.n_test:,}: "
             f"{len(cal.simulated)} simulated logs of the held-out period, each starting empty with "
             f"{cal.n_test:,} arrivals. Cycle-time distance {number(f['cycle_time']['mean'])} h "
             f"(sd {number(f['cycle_time']['sd'], 2)}), 3-gram distance {number(f['ngram_3']['mean'])}.", ""]
    if cal.baselines:
        best = [line.split(": ")[1] for line in _closest(cal)]
        said = (f"{best[0]} is the closest on every measure" if len(set(best)) == 1
                else "Closest to the held-out log, per measure: " + "; ".join(_closest(cal)))
        lines += [said[0].upper() + said[1:] + ". The baselines copy real cases (replay: the training log "
                  "shifted into the held-out period; naive: training cases resampled whole), so they are floors for "
                  "the trace measures, not models: they cannot answer a what-if.", ""]
    if cal.warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in cal.warnings] + [""]
    lines.append(fidelity_section({"vssim": cal.fidelity, **cal.baselines}, figures))
    if cal.bootstrap:
        lines += ["## Input uncertainty", "",
                  f"The training cases resampled {len(cal.bootstrap)} times, a stream fitted to each and the "
                  "held-out period simulated once per stream: the spread is what the finite data leaves "
                  "uncertain, beside each run's own noise.", "",
                  "| resample | lead time mean | lead time p85 | throughput |", "|---:|---:|---:|---:|"]
        lines += [f"| {b['resample']} | {number(b['lead_time_mean'])} | {number(b['lead_time_p85'])} | "
                  f"{number(b['throughput'])} |" for b in cal.bootstrap]
        lines.append("")
    lines += ["## The stream", "", "`stream.yaml` holds the fitted stream, each number with a comment on where it "
              "came from; `heldout.csv` and `simulated/*.csv` are the logs compared (case_id, activity, "
              "timestamp, lifecycle, resource), so that anyone can recompute the distances.", ""]
    return "\n".join(lines)


def write_report(cal, out: Path) -> Path:
    """report.md and its figures (figures/*.png) into `out`."""
    out = Path(out)
    paths = fidelity_figures(cal.heldout, cal.simulated, out / "figures", time_unit="day", label="vssim")
    rel = {k: Path(p).relative_to(out).as_posix() for k, p in paths.items()}
    text = report_text(cal, rel)
    write_atomic(out / "report.md", lambda p: p.write_text(text, encoding="utf-8"))
    return out / "report.md"
