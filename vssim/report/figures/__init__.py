"""The figures of the reports, one concept per module; each function takes plain data (a summary
dict, a DataFrame, a `Records`, an array per scenario), never an engine, writes a PNG to `path`
and returns the path:

- `style`: size, fonts, the Okabe–Ito palette, metric labels, saving (every figure uses it);
- `flow_metrics`: the dashboard of the six flow metrics of a run;
- `flow`: cumulative flow, throughput run chart, aging WIP (one replication over time);
- `lead_time`: lead-time histogram, cycle-time scatter, lead-time distributions of scenarios;
- `value_stream`: time per step, the value stream map's timeline;
- `people`: who is overloaded, each pool's utilisation and its people's;
- `comparison`: scenarios against the baseline, what common random numbers bought;
- `sweep`: WIP curves of a CONWIP sweep, the trials of an optimisation;
- `transition`: a reorganisation in time against its baseline (`vssim.analysis.transition`);
- `fidelity`: a real log against the band of simulated logs (lead time, weekly throughput, WIP);
- `aging`: aging WIP of a real board now (a `vssim.read_state` `BoardState`; `aging.aging_wip`).

Each public function builds its figure with a `_build_xxx(...) -> Figure` helper that tests
can inspect before anything is saved. Conventions: 110 dpi, fonts of at least 10 pt, the
Okabe–Ito colour-blind-safe palette, a title and axis labels with the time unit on every
figure. Numbers in labels are formatted by `vssim.formatting`.

    from vssim.report import figures
    figures.comparison_bars(comparison.table, "comparison.png", time_unit="day")
"""
from vssim.report.figures.comparison import comparison_bars, crn_widths
from vssim.report.figures.fidelity import fidelity_figures
from vssim.report.figures.flow import aging_wip, cumulative_flow, throughput_run_chart
from vssim.report.figures.flow_metrics import dashboard
from vssim.report.figures.lead_time import cycle_time_scatter, lead_time_distributions, lead_time_histogram
from vssim.report.figures.people import utilization_bars
from vssim.report.figures.style import OKABE_ITO, color
from vssim.report.figures.sweep import optimisation_trials, wip_curves
from vssim.report.figures.transition import transition_figure
from vssim.report.figures.value_stream import step_times, vsm_timeline

__all__ = ["OKABE_ITO", "aging_wip", "color", "comparison_bars", "crn_widths", "cumulative_flow", "cycle_time_scatter",
           "dashboard", "fidelity_figures", "lead_time_distributions", "lead_time_histogram", "optimisation_trials",
           "step_times", "throughput_run_chart", "transition_figure", "utilization_bars", "vsm_timeline", "wip_curves"]
