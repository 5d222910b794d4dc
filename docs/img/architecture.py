"""Draws docs/img/architecture.png: vssim's layers and the way data flows through them.

    .venv/bin/python docs/img/architecture.py
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

LAYERS = [  # top to bottom: (boxes of one layer, what the layer owns)
    (["cli"], "the `vssim` command: the Hydra edge and sweep callbacks"),
    (["run", "(studies)"], "simulate, settings checked once, experiments, sweeps, run.json"),
    (["report", "scenarios", "(web)"], "markdown, figures, animation | transforms of a stream"),
    (["analysis"], "summary, intervals, compiled passes, streaming totals, comparison, theory"),
    (["engines", "(data)"], "registry, SimPy engine, max-plus engine, random sources | importers"),
    (["records"], "Records, the RecordSink protocol, the one builder"),
    (["model"], "StreamSpec, distributions, Plan, Settings"),
    (["errors", "compiled", "scratch", "files", "formatting"], "one-line errors, numba, memory, atomic files, numbers"),
]
FLOW = ["stream file", "StreamSpec", "Plan", "Engine", "RecordSink", "summary", "SimResult", "report"]


def main() -> None:
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 6.4), gridspec_kw={"width_ratios": [1.7, 1]})
    colours = ["#0072B2", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#D55E00", "#F0E442", "#999999"]
    n = len(LAYERS)
    for i, (boxes, owns) in enumerate(LAYERS):
        y = n - 1 - i
        width = 0.62 / len(boxes)
        for k, name in enumerate(boxes):
            x = 0.02 + k * width
            optional = name.startswith("(")
            ax.add_patch(FancyBboxPatch((x, y + 0.12), width - 0.02, 0.76, boxstyle="round,pad=0.01",
                                        fc="white" if optional else colours[i], ec=colours[i], lw=1.5,
                                        ls="--" if optional else "-", alpha=0.9))
            ax.text(x + (width - 0.02) / 2, y + 0.5, f"vssim.{name.strip('()')}" if len(boxes) < 3 else name.strip("()"),
                    ha="center", va="center", fontsize=9.5 if len(boxes) < 5 else 8, color="black" if optional or i in (6, 7) else "white",
                    weight="bold")
        ax.text(0.66, y + 0.5, owns, va="center", fontsize=9)
    ax.annotate("", xy=(0.005, 0.1), xytext=(0.005, n - 0.1), arrowprops={"arrowstyle": "->", "lw": 1.5})
    ax.text(-0.01, n / 2, "imports go down only", rotation=90, ha="right", va="center", fontsize=9)
    ax.set_xlim(-0.04, 1.25)
    ax.set_ylim(0, n)
    ax.axis("off")
    ax.set_title("Layers (held by import-linter; dashed: places for the next issues)", fontsize=11, loc="left")
    for i, name in enumerate(FLOW):
        y = len(FLOW) - 1 - i
        bx.add_patch(FancyBboxPatch((0.2, y + 0.2), 0.6, 0.6, boxstyle="round,pad=0.02", fc="#F7F7F7", ec="#333"))
        bx.text(0.5, y + 0.5, name, ha="center", va="center", fontsize=10)
        if i:
            bx.add_patch(FancyArrowPatch((0.5, y + 1.18), (0.5, y + 0.82), arrowstyle="-|>", mutation_scale=14))
    notes = {"Plan": "model/plan.py", "Engine": "engines/registry.py chooses", "RecordSink": "Records | RunStats",
             "summary": "analysis/summary.py", "report": "report/markdown.py"}
    for i, name in enumerate(FLOW):
        if name in notes:
            bx.text(0.84, len(FLOW) - 1 - i + 0.5, notes[name], va="center", fontsize=8.5, color="#555")
    bx.set_xlim(0, 1.6)
    bx.set_ylim(0, len(FLOW))
    bx.axis("off")
    bx.set_title("Data flows one way", fontsize=11, loc="left")
    fig.tight_layout()
    out = Path(__file__).with_suffix(".png")
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
