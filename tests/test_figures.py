"""Report figures (vssim.report.figures, one module per concept): each writes a readable PNG and draws
the numbers it is given."""
from __future__ import annotations

import types

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.patches import Rectangle
from matplotlib.text import Text

import vssim
from vssim.formatting import number, percent
from vssim.report.figures import comparison, flow, flow_metrics, lead_time, people, style, sweep, value_stream

STREAM = {
    "name": "tiny",
    "time_unit": "day",
    "arrivals": {"process": "poisson", "rate": 0.8},
    "item_types": {"feature": {"share": 0.7}, "defect": {"share": 0.3, "size": 0.5}},
    "pools": {"devs": 2, "testers": 1},
    "steps": {
        "build": {"pool": "devs", "work": {"dist": "exponential", "mean": 1.5}, "wip_limit": 6},
        "test": {"pool": "testers", "work": {"dist": "lognormal", "mean": 0.8, "cv": 0.5},
                 "rework": {"probability": 0.2, "to": "build"}},
    },
}
WARMUP = 20.0


@pytest.fixture(scope="module")
def result():
    return vssim.simulate(vssim.StreamSpec.from_dict(STREAM), horizon=200, warmup=WARMUP, replications=2, seed=3,
                          progress=False)


@pytest.fixture(scope="module")
def table():
    """A tidy comparison table built by hand: baseline and two scenarios, three metrics."""
    rows = []
    spec = {"lead_time": (10.0, [0.0, -3.0, 1.0]), "throughput": (0.8, [0.0, 0.1, -0.01]),
            "flow_efficiency": (0.3, [0.0, 0.05, 0.0])}
    for metric, (base, diffs) in spec.items():
        for k, (name, d) in enumerate(zip(["baseline", "limit_wip", "kaikaku"], diffs, strict=True)):
            mean = base + d
            paired = 0.02 * base * (k + 1)
            indep = 3 * paired
            rows.append({"scenario": name, "metric": metric, "mean": mean, "ci_lo": mean - 0.05 * base,
                         "ci_hi": mean + 0.05 * base, "baseline_mean": base, "diff": d,
                         "diff_lo": d - paired if k else 0.0, "diff_hi": d + paired if k else 0.0,
                         "pct_change": 100 * d / base, "significant": bool(k and abs(d) > paired),
                         "indep_lo": d - indep if k else 0.0, "indep_hi": d + indep if k else 0.0,
                         "variance_reduction": 9.0 if k else np.nan, "replications": 10})
    return pd.DataFrame(rows)


def vsm_stand_in():
    steps = pd.DataFrame({"step": ["build", "test"], "visits": [1.25, 1.25], "process_time": [1.9, 1.0],
                          "wait_time": [4.2, 0.7], "lead_time": [6.1, 1.7], "pct_complete_accurate": [1.0, 0.8]})
    return types.SimpleNamespace(steps=steps, total_process_time=2.9, total_wait_time=4.9, total_lead_time=7.8,
                                 flow_efficiency=2.9 / 7.8, rolled_pct_complete_accurate=0.8, time_unit="day")


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text)]


def by_gid(fig, gid, kind=None):
    return [a for a in fig.findobj(kind) if a.get_gid() == gid]


def check_png(path, fig):
    """The PNG exists, is an image, and has the figure's size at 110 dpi."""
    assert path.exists()
    img = mpimg.imread(path)
    w, h = fig.get_size_inches() * style.DPI
    assert abs(img.shape[0] - h) <= 1 and abs(img.shape[1] - w) <= 1
    assert img.shape[2] in (3, 4)
    assert img[..., :3].std() > 0.01                  # not blank


def check_readable(fig):
    """A title, and every text at least 10 pt."""
    titled = fig.get_suptitle() or any(ax.get_title() for ax in fig.axes)
    assert titled
    for t in fig.findobj(Text):
        if t.get_text().strip():
            assert t.get_fontsize() >= 10, t.get_text()


# ------------------------------------------------------------------------------------ dashboard
def test_dashboard_tiles_hold_the_formatted_numbers(result, tmp_path):
    s = result.summary
    m = s["metrics"]
    fig = flow_metrics._build_dashboard(s)
    check_readable(fig)
    t = "\n".join(texts(fig))
    assert number(m["throughput"]["mean"]) in t
    assert f"{number(m['lead_time']['mean'])} day" in t
    assert f"p85 {number(m['lead_time']['p85'])} day" in t
    assert number(m["wip"]["mean"]) in t
    assert percent(m["flow_efficiency"]["mean"]) in t
    assert percent(m["flow_predictability"]["mean"]) in t
    for name in ("Flow distribution", "Flow velocity", "Flow time", "Flow load", "Flow efficiency",
                 "Flow predictability"):
        assert name in t
    for typ, share in m["flow_distribution"].items():
        assert f"{typ} {percent(share)}" in t
        bar = by_gid(fig, f"distribution:{typ}", Rectangle)
        assert len(bar) == 1 and bar[0].get_width() == pytest.approx(share * 0.88)
    lo, hi = m["throughput"]["ci95"]
    assert f"95 % CI {number(lo)} to {number(hi)}" in t
    path = flow_metrics.dashboard(s, tmp_path / "dash.png")
    assert path == tmp_path / "dash.png"
    check_png(path, fig)


def test_dashboard_without_intervals_says_na(result, tmp_path):
    s = {**result.summary, "metrics": {**result.summary["metrics"]}}
    s["metrics"]["throughput"] = {"mean": 0.5, "ci95": [None, None]}
    s["metrics"]["flow_predictability"] = {"mean": None, "ci95": [None, None], "in_band": None}
    fig = flow_metrics._build_dashboard(s, title="custom")
    t = texts(fig)
    assert "95 % CI n/a" in t and "n/a" in t and fig.get_suptitle() == "custom"
    flow_metrics.dashboard(s, tmp_path / "d.png")


# ------------------------------------------------------------------------------------ lead-time histogram
def test_lead_time_histogram_counts_items_and_draws_percentiles(result, tmp_path):
    lt = result.items["lead_time"].to_numpy()
    fig = lead_time._build_lead_time_histogram(lt, "day", "lead times")
    check_readable(fig)
    heights = sum(p.get_height() for p in fig.axes[0].patches)
    assert heights == pytest.approx(np.isfinite(lt).sum())
    t = texts(fig)
    for q in (50, 85, 95):
        assert f"p{q} = {number(np.nanpercentile(lt, q))} day" in t
    sketch = lead_time._build_lead_time_histogram(np.array([1.0, 2.0]), "day", "from a sketch",
                                                  counts=np.array([3, 5]), quantiles={50: 2.0, 85: 2.0, 95: 2.0})
    assert "p85 = 2 day" in texts(sketch)
    path = lead_time.lead_time_histogram(lt, "day", "lead times", tmp_path / "lt.png")
    check_png(path, fig)


# ------------------------------------------------------------------------------------ cumulative flow
def test_cumulative_flow_bands_are_the_counts_of_each_state(result, tmp_path):
    rec = result.records[0]
    fig = flow._build_cumulative_flow(rec, "day", "cfd")
    check_readable(fig)
    t = np.array([rec.warmup, rec.end / 2])
    names, counts, base = flow.cfd_counts(rec, t)
    assert names == ["backlog", *rec.step_names] and len(counts) == len(names) + 1
    done = np.sort(rec.done[~np.isnan(rec.done)])
    assert base == np.searchsorted(done, rec.warmup, side="right")
    assert all((counts[k] >= counts[k + 1]).all() for k in range(len(names)))    # the curves never cross
    path = flow.cumulative_flow(rec, "day", "cfd", tmp_path / "cfd.png")
    check_png(path, fig)


ROUTED = {**STREAM, "name": "routed",
          "steps": {"triage": {"pool": "testers", "work": {"dist": "exponential", "mean": 0.3}, "types": ["defect"]},
                    **STREAM["steps"],
                    "review": {"pool": "testers", "work": {"dist": "exponential", "mean": 0.2}, "types": ["feature"]},
                    "deploy": {"pool": "devs", "work": {"dist": "exponential", "mean": 0.2}}}}
"""Defects are triaged and features reviewed: every item skips a step."""


@pytest.fixture(scope="module")
def routed():
    return vssim.simulate(vssim.StreamSpec.from_dict(ROUTED), horizon=200, warmup=WARMUP, replications=2, seed=3,
                          progress=False)


def test_cumulative_flow_of_a_routed_stream_is_never_negative(routed):
    """An item that skips a step counts as past it once it reaches a later step of its route (or is
    done): every band is a count of items, and the top curve is the arrivals."""
    rec = routed.records[0]
    t = np.linspace(0.0, rec.end, 2001)
    names, counts, base = flow.cfd_counts(rec, t)
    assert names == ["backlog", *ROUTED["steps"]]
    for k in range(len(names)):
        assert (counts[k] - counts[k + 1] >= 0).all(), names[k]
    assert (counts[0] == np.searchsorted(np.sort(rec.arrival), t, side="right") - base).all()
    assert (counts[-1] == np.searchsorted(np.sort(rec.done[~np.isnan(rec.done)]), t, side="right") - base).all()
    # a band counts the items whose route has reached that column and not a later one
    mid = rec.end / 2
    past = [first_reached(rec, j, mid) for j in range(len(names) - 1)]
    _, at_mid, done_by_mid = flow.cfd_counts(rec, np.array([mid]))
    for j, n in enumerate(past):
        assert at_mid[j + 1][0] == n - done_by_mid
    check_readable(flow._build_cumulative_flow(rec, "day", "cfd"))


def first_reached(rec, j: int, t: float) -> int:
    """Items that by time t entered step j or a later one, or are done."""
    later = rec.visit_step >= j
    reached = set(rec.visit_item[later & (rec.visit_enter <= t)].tolist())
    reached |= set(np.flatnonzero(rec.done <= t).tolist())
    return len(reached)


def test_cumulative_flow_of_a_line_is_each_columns_first_entry(result):
    """Without routing, reaching a column or a later one is entering it: the curves are the first entries."""
    rec = result.records[0]
    t = np.linspace(0.0, rec.end, 501)
    _, counts, base = flow.cfd_counts(rec, t)
    for j in range(len(rec.step_names)):
        m = rec.visit_step == j
        first = pd.Series(rec.visit_enter[m]).groupby(rec.visit_item[m]).min().to_numpy()
        assert (counts[j + 1] == np.searchsorted(np.sort(first), t, side="right") - base).all()


# ------------------------------------------------------------------------------------ scatter
def test_cycle_time_scatter_points_and_percentile_lines(result, tmp_path):
    items = result.items
    fig = lead_time._build_cycle_time_scatter(items, "day", warmup=WARMUP)
    check_readable(fig)
    done = items[items["done"].notna()]
    points = sum(len(c.get_offsets()) for c in fig.findobj(PathCollection) if str(c.get_gid()).startswith("items:"))
    assert points == len(done)
    after = done[done["arrival"] >= WARMUP]["lead_time"]
    for q in (50, 85, 95):
        (line,) = by_gid(fig, f"p{q}")
        assert line.get_ydata()[0] == pytest.approx(np.percentile(after, q))
    assert by_gid(fig, "warmup")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "done at (day)" and ax.get_ylabel() == "lead time (day)"
    path = lead_time.cycle_time_scatter(items, "day", tmp_path / "scatter.png", warmup=WARMUP)
    check_png(path, fig)


def test_cycle_time_scatter_without_arrival_column(result, tmp_path):
    items = result.items[["done", "lead_time", "type"]]
    lead_time.cycle_time_scatter(items, "week", tmp_path / "s.png")


# ------------------------------------------------------------------------------------ throughput
@pytest.mark.parametrize("span", [7.0, 45.0, 122.0, 180.0, 1000.0, 3650.0, 0.37])
def test_default_period_gives_30_to_60_periods(span):
    p = flow.nice_period(span)
    assert 30 <= span / p <= 60 + 1e-9


def test_throughput_run_chart_bars_mean_and_band(result, tmp_path):
    items = result.items
    rec = result.records[0]
    fig = flow._build_throughput_run_chart(items, "day", period=5.0, warmup=WARMUP, end=rec.end)
    check_readable(fig)
    one = items[items["replication"] == 0]["done"].to_numpy()
    edges = np.arange(WARMUP, rec.end + 1e-9, 5.0)
    expected, _ = np.histogram(one[np.isfinite(one)], bins=edges)
    bars = by_gid(fig, "bars", Rectangle)
    assert [p.get_height() for p in bars] == list(expected)
    (mean,) = by_gid(fig, "mean")
    assert mean.get_ydata()[0] == pytest.approx(expected.mean())
    (band,) = by_gid(fig, "band")
    ys = band.get_path().vertices[:, 1] if not isinstance(band, Rectangle) else [band.get_y(),
                                                                                band.get_y() + band.get_height()]
    assert min(ys) == pytest.approx(np.percentile(expected, 5)) and max(ys) == pytest.approx(
        np.percentile(expected, 95))
    warm = by_gid(fig, "bars:warmup")
    assert len(warm) == 4          # 20 days of warmup in 5-day periods
    assert fig.axes[0].get_ylabel() == "items done per 5 day"
    path = flow.throughput_run_chart(items, "day", tmp_path / "tp.png", period=5.0, warmup=WARMUP, end=rec.end)
    check_png(path, fig)


def test_throughput_run_chart_default_period(result, tmp_path):
    rec = result.records[0]
    fig = flow._build_throughput_run_chart(result.items, "day", warmup=WARMUP, end=rec.end)
    assert 30 <= len(by_gid(fig, "bars", Rectangle)) <= 60
    flow.throughput_run_chart(result.items, "day", tmp_path / "tp.png")


# ------------------------------------------------------------------------------------ aging WIP
def test_aging_wip_one_dot_per_item_in_progress(result, tmp_path):
    rec = result.records[0]
    fig = flow._build_aging_wip(rec, "day")
    check_readable(fig)
    open_ = (rec.commit <= rec.end) & np.isnan(rec.done)
    dots = [c for c in fig.findobj(PathCollection) if str(c.get_gid()).startswith("items")]
    ages = np.sort(np.concatenate([c.get_offsets()[:, 1] for c in dots]))
    assert len(ages) == open_.sum() > 0
    np.testing.assert_allclose(ages, np.sort(rec.end - rec.commit[open_]))
    # each dot sits in its item's current column (the step of its last visit)
    wip = flow.in_progress(rec)
    for item, col in zip(wip["item"], wip["column"], strict=True):
        assert rec.visit_step[np.flatnonzero(rec.visit_item == item)[-1]] == col
    # the bands: p50 and p85 of done items' time from commit to (last) leaving each column
    bands = flow.column_age_percentiles(rec)
    ok = ~np.isnan(rec.done) & (rec.arrival >= rec.warmup)
    for j, name in enumerate(rec.step_names):
        times = []
        for i in np.flatnonzero(ok):
            leave = rec.visit_leave[(rec.visit_item == i) & (rec.visit_step == j)]
            if len(leave):
                times.append(leave.max() - rec.commit[i])
        np.testing.assert_allclose(bands[j], np.percentile(times, [50, 85]))
        rects = by_gid(fig, f"band:{name}", Rectangle)
        tops = sorted(r.get_y() + r.get_height() for r in rects)
        assert tops[0] == pytest.approx(bands[j, 0]) and tops[1] == pytest.approx(bands[j, 1])
    # at-risk dots are exactly those above their column's p85
    (risk,) = by_gid(fig, "items:at_risk")
    assert len(risk.get_offsets()) == int((wip["age"].to_numpy() > bands[wip["column"].to_numpy(), 1]).sum())
    path = flow.aging_wip(rec, "day", tmp_path / "aging.png")
    check_png(path, fig)


# ------------------------------------------------------------------------------------ VSM
def test_vsm_timeline_ladder_and_totals(tmp_path):
    vsm = vsm_stand_in()
    fig = value_stream._build_vsm_timeline(vsm)
    check_readable(fig)
    for _, row in vsm.steps.iterrows():
        (wait,) = by_gid(fig, f"wait:{row['step']}")
        (proc,) = by_gid(fig, f"process:{row['step']}")
        assert wait.get_ydata()[0] > proc.get_ydata()[0]          # wait on the upper level
    t = texts(fig)
    # the ladder is per item: visits (1.25) x the per-visit times; the totals as given
    for s in ("5.25 day", "0.875 day", "2.38 day", "1.25 day", "7.8 day", "2.9 day", "4.9 day", "37 %", "80 %"):
        assert s in t, s
    assert any("%C&A 80 %" in x for x in t)
    path = value_stream.vsm_timeline(vsm, tmp_path / "vsm.png")
    check_png(path, fig)


def test_vsm_timeline_draws_one_lane_per_route(routed, tmp_path):
    from vssim.analysis.vsm import value_stream_map

    vsm = value_stream_map(routed)
    assert [r["types"] for r in vsm.routes] == [["feature"], ["defect"]]
    fig = value_stream._build_vsm_timeline(vsm)
    check_readable(fig)
    for route in vsm.routes:
        key = "+".join(route["types"])
        for step in ROUTED["steps"]:
            drawn = by_gid(fig, f"wait:{key}/{step}")
            assert len(drawn) == (step in route["steps"]), (key, step)
        (lane,) = by_gid(fig, f"lane:{key}")
        assert f"rolled %C&A {percent(route['rolled_pct_complete_accurate'])}" in lane.get_text()
        assert percent(route["share"]) in lane.get_text()
    assert percent(vsm.rolled_pct_complete_accurate) in texts(fig)
    path = value_stream.vsm_timeline(vsm, tmp_path / "vsm.png")
    check_png(path, fig)


def test_step_times_stack_wait_process_and_blocked(result, tmp_path):
    steps = result.summary["steps"]
    fig = value_stream._build_step_times(steps, "day", "steps")
    check_readable(fig)
    bars = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    ends = {}
    for bar in bars:
        ends.setdefault(round(bar.get_y() + bar.get_height() / 2), []).append(bar.get_x() + bar.get_width())
    for k, name in enumerate(steps):
        s = steps[name]
        assert max(ends[k]) == pytest.approx(sum(s[key] or 0.0 for key in ("wait", "process_time", "blocked")))
    path = value_stream.step_times(steps, "day", "steps", tmp_path / "steps.png")
    check_png(path, fig)


# ------------------------------------------------------------------------------------ people
def test_utilization_bars_rank_pools_with_their_people_and_mark_the_overloaded(tmp_path):
    pools = {"calm": {"utilization": 0.4, "utilization_ci95": [0.3, 0.5], "people": {"1": 0.5, "2": 0.3}},
             "hot": {"utilization": 0.9, "utilization_ci95": [None, None], "people": {"1": 0.9}},
             "idle": {"utilization": None, "utilization_ci95": [None, None]}}
    fig = people._build_utilization_bars(pools, 0.85, "who is overloaded")
    check_readable(fig)
    bars = {a.get_gid(): a for a in fig.findobj(Rectangle) if a.get_gid()}
    assert list(bars) == ["pool:hot", "pool:calm", "person:calm/1", "person:calm/2", "pool:idle"]  # one person: no row
    for gid, width in (("pool:hot", 0.9), ("pool:calm", 0.4), ("person:calm/1", 0.5), ("person:calm/2", 0.3)):
        assert bars[gid].get_width() == pytest.approx(width)
    assert bars["pool:hot"].get_facecolor() != bars["pool:calm"].get_facecolor()     # red from 85 %
    assert {"90 %", "40 %", "50 %", "30 %", "n/a", "overloaded ≥ 85 %"} <= set(texts(fig))
    path = people.utilization_bars(pools, tmp_path / "people.png", overloaded=0.85, title="who is overloaded")
    check_png(path, fig)


# ------------------------------------------------------------------------------------ comparisons
def test_comparison_bars_heights_and_annotations(table, tmp_path):
    fig = comparison._build_comparison_bars(table, time_unit="day")
    check_readable(fig)
    for metric in ("lead_time", "throughput", "flow_efficiency"):
        bars = by_gid(fig, f"bars:{metric}", Rectangle)
        rows = table[table["metric"] == metric]
        assert [p.get_width() for p in bars] == pytest.approx(rows["mean"].tolist())
        assert bars[0].get_facecolor()[:3] == pytest.approx((0.498, 0.498, 0.498), abs=0.01)  # grey
    (lt,) = by_gid(fig, "change:lead_time:limit_wip")
    assert lt.get_text() == "-30 %*"
    (kk,) = by_gid(fig, "change:lead_time:kaikaku")
    assert kk.get_text() == "+10 %*"
    (fe,) = by_gid(fig, "change:flow_efficiency:kaikaku")
    assert fe.get_text() == "+0 %"
    labels = [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()]
    assert labels == ["lead time, mean (day)", "throughput (items/day)", "flow efficiency (%)"]
    path = comparison.comparison_bars(table, tmp_path / "cmp.png", time_unit="day")
    check_png(path, fig)


def test_comparison_baseline_first_even_when_listed_last(table):
    t = pd.concat([table[table["scenario"] != "baseline"], table[table["scenario"] == "baseline"]])
    t["scenario"] = t["scenario"].replace("baseline", "today")
    fig = comparison._build_comparison_bars(t, metrics=("lead_time",))
    bars = by_gid(fig, "bars:lead_time", Rectangle)
    assert bars[0].get_width() == pytest.approx(10.0)
    assert [x.get_text() for x in fig.axes[0].get_yticklabels()][0] == "today"


def test_crn_widths_half_widths_and_factor(table, tmp_path):
    fig = comparison._build_crn_widths(table)
    check_readable(fig)
    (paired,) = by_gid(fig, "paired:lead_time")
    (indep,) = by_gid(fig, "independent:lead_time")
    np.testing.assert_allclose(paired.get_offsets()[:, 0], [0.4, 0.6])     # (diff_hi - diff_lo) / 2
    np.testing.assert_allclose(indep.get_offsets()[:, 0], [1.2, 1.8])
    (f,) = by_gid(fig, "factor:throughput:kaikaku")
    assert f.get_text() == "variance ×9"
    assert fig.axes[0].get_xscale() == "log"
    factor = comparison._factor
    assert (factor(4.24), factor(1234.0), factor(np.nan)) == ("variance ×4.2", "variance ×1,234", "n/a")
    w = comparison.crn_halfwidths(table.assign(variance_reduction=np.nan))
    np.testing.assert_allclose(w["factor"], 9.0)
    path = comparison.crn_widths(table, tmp_path / "crn.png")
    check_png(path, fig)


def test_lead_time_distributions_p85_markers(result, tmp_path):
    lt = result.items["lead_time"].to_numpy()
    data = {"baseline": lt, "faster": lt[np.isfinite(lt)] * 0.7}
    fig = lead_time._build_lead_time_distributions(data, "day")
    check_readable(fig)
    for name, v in data.items():
        v = v[np.isfinite(v)]
        (marker,) = by_gid(fig, f"p85:{name}")
        assert marker.get_xdata()[0] == pytest.approx(np.percentile(v, 85))
        (ecdf,) = by_gid(fig, f"ecdf:{name}")
        assert ecdf.get_ydata()[-1] == pytest.approx(1.0) and len(ecdf.get_xdata()) == len(v) + 1
    assert fig.axes[0].get_xlabel() == "lead time (day)"
    path = lead_time.lead_time_distributions(data, "day", tmp_path / "ltd.png")
    check_png(path, fig)


# ------------------------------------------------------------------------------------ sweeps
def test_optimisation_trials_objective_and_best_so_far(tmp_path):
    trials = pd.DataFrame({"trial": [0, 1, 2, 3], "objective": [1.0, 0.5, 1.5, np.nan],
                           "objective_lo": [0.9, 0.4, 1.4, np.nan], "objective_hi": [1.1, 0.6, 1.6, np.nan]})
    fig = sweep._build_optimisation_trials(trials)
    check_readable(fig)
    (best,) = [line for line in fig.axes[0].get_lines() if line.get_label() == "best so far"]
    assert list(best.get_ydata()) == [1.0, 1.0, 1.5]                     # the trial without a value left out
    path = sweep.optimisation_trials(trials, tmp_path / "opt.png")
    check_png(path, fig)
