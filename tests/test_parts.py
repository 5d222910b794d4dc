"""Split items (vssim/analysis/parts.py, docs/metrics.md "Split items"): a stream whose items were
split by `split_items` is reported in units of the items it was split from, computed from the
records' `parent` column; the parts' own metrics stay under `parts`."""
from __future__ import annotations

import math
import re
import types

import numpy as np
import pandas as pd
import pytest
from conftest import BASE, CONFIGS, assert_one_line
from oracle import window_metrics

import vssim
from vssim import SpecError, StreamSpec
from vssim.model.settings import Settings
from vssim.report.markdown import write_report
from vssim.run.experiment import run_experiment
from vssim.scenarios.scenario import load_scenario
from vssim.scenarios.transforms import apply_transform


def shipped(name: str) -> StreamSpec:
    return vssim.load_stream(CONFIGS / "stream" / f"{name}.yaml")


def split(d: dict, factor: int = 2) -> dict:
    return apply_transform(d, {"op": "split_items", "factor": factor})


def run(d: dict, **sim) -> vssim.SimResult:
    sim.setdefault("progress", False)
    return vssim.simulate(StreamSpec.from_dict(d), **sim)


LINE = {"name": "line", "arrivals": {"process": "poisson", "rate": 0.4},
        "pools": {"a": 1, "b": 1},
        "steps": {"s1": {"pool": "a", "work": {"dist": "exponential", "mean": 1.0}},
                  "s2": {"pool": "b", "work": {"dist": "gamma", "mean": 1.5, "cv": 0.5}}}}
"""A line the fast engine runs (one person per step, no rework)."""


# --------------------------------------------------------------------------- the stream knows its parts
def test_split_items_records_the_parts_in_the_stream():
    out = split(BASE)
    assert out["parts"] == 2 and StreamSpec.from_dict(out).parts == 2
    assert split(out, 3)["parts"] == 6                       # a split of a split: parts multiply
    assert StreamSpec.from_dict(BASE).parts == 1             # unsplit


@pytest.mark.parametrize("value, text", [(0, "got 0"), (1.5, "got 1.5"), ("two", "got 'two'"), (True, "got true")])
def test_parts_must_be_a_positive_integer(value, text):
    with pytest.raises(SpecError) as e:
        StreamSpec.from_dict({**BASE, "parts": value})
    assert_one_line(e.value, "parts", text, "a positive integer")


def test_parts_refuse_a_backlog_limit():
    d = split(BASE)
    d["release"] = {**d["release"], "backlog_limit": 5}
    with pytest.raises(SpecError) as e:
        StreamSpec.from_dict(d)
    assert_one_line(e.value, "parts", "got 2", "release.backlog_limit null")


def test_streaming_statistics_refuse_a_split_stream():
    with pytest.raises(SpecError) as e:
        run(split(LINE), horizon=100, warmup=10, stats="streaming")
    assert_one_line(e.value, "sim.stats", "got 'streaming'", "full")
    assert "parts" in str(e.value)


# --------------------------------------------------------------------------- records
def test_only_split_streams_have_a_parent_column():
    plain = run(LINE, horizon=200, warmup=0, replications=1, seed=2)
    assert "parent" not in plain.items.columns and plain.records[0].parent is None
    r = run(split(LINE, 3), horizon=200, warmup=0, replications=2, seed=2)
    items = r.items
    assert list(items.columns[:3]) == ["replication", "item", "parent"]
    assert (items["parent"] == items["item"] // 3).all()
    # consecutive arrivals are the parts of one original: parent order follows arrival order
    assert (np.diff(items[items.replication == 0]["arrival"]) >= 0).all()


# --------------------------------------------------------------------------- metrics in original items
def by_hand(rec, factor: int):
    """The originals of one replication from its items frame, with pandas: arrival and commit of
    the first part, done when the last of all `factor` parts is done, touch the sum."""
    df = rec.items_frame()
    g = df.groupby("parent")
    complete = (g.size() == factor) & g["done"].apply(lambda x: x.notna().all())
    done = g["done"].max().where(complete)
    return types.SimpleNamespace(
        arrival=g["arrival"].min().to_numpy(), commit=g["commit"].min().to_numpy(), done=done.to_numpy(),
        touch=g["touch_time"].sum().to_numpy(), first=g["done"].min().to_numpy(),
        rejected_times=rec.rejected_times, end=rec.end, warmup=rec.warmup)


@pytest.mark.parametrize("engine, d", [("simpy", BASE), ("fast", LINE)])
def test_metrics_count_original_items(engine, d):
    factor = 2
    r = run(split(d, factor), horizon=400, warmup=40, replications=3, seed=7, engine=engine)
    assert r.summary["sim"]["engine"] == engine
    parts = run({k: v for k, v in split(d, factor).items() if k != "parts"}, horizon=400, warmup=40,
                replications=3, seed=7, engine=engine)
    m = r.summary["metrics"]
    assert r.summary["parts"]["factor"] == factor
    # the parts' own metrics: what the same run says when its items are not known to be parts
    assert r.summary["parts"]["metrics"] == parts.summary["metrics"]
    assert r.summary["parts"]["replications"] == parts.summary["replications"]
    assert r.summary["steps"] == parts.summary["steps"] and r.summary["pools"] == parts.summary["pools"]
    ttfv = []
    for rec, rep in zip(r.records, r.summary["replications"], strict=True):
        whole = by_hand(rec, factor)
        want = window_metrics(whole, rec.warmup, rec.end)
        for key in ("lead_time", "flow_time", "throughput", "wip", "backlog", "flow_efficiency", "completed",
                    "unfinished"):
            assert rep[key] == pytest.approx(want[key], rel=1e-12), key
        after = (whole.arrival >= rec.warmup) & ~np.isnan(whole.first)
        first = whole.first[after] - whole.arrival[after]
        assert rep["time_to_first_value"] == pytest.approx(float(first.mean()), rel=1e-12)
        ttfv.append(first)
        # an original is never done before its parts, nor before its first value
        assert (first <= (whole.done - whole.arrival)[after] + 1e-12)[~np.isnan(whole.done[after])].all()
    assert m["throughput"]["mean"] == pytest.approx(np.mean([x["throughput"] for x in r.summary["replications"]]))
    assert m["completed"] == sum(x["completed"] for x in r.summary["replications"])
    pooled = np.concatenate(ttfv)
    assert m["time_to_first_value"]["count"] == len(pooled)
    assert m["time_to_first_value"]["mean"] == pytest.approx(np.mean([x.mean() for x in ttfv]), rel=1e-12)
    assert m["time_to_first_value"]["p85"] == pytest.approx(np.percentile(pooled, 85), rel=1e-12)
    # half as many originals as parts are done, and an original takes longer than its parts
    assert m["completed"] <= parts.summary["metrics"]["completed"] / factor + 3
    assert m["lead_time"]["mean"] > parts.summary["metrics"]["lead_time"]["mean"]
    assert m["time_to_first_value"]["mean"] < m["lead_time"]["mean"]


def test_an_unsplit_stream_is_summarised_as_before():
    a = run(LINE, horizon=300, warmup=30, replications=2, seed=4)
    assert "parts" not in a.summary and "time_to_first_value" not in a.summary["metrics"]


def test_a_split_run_saves_the_parent_column_and_reports_whole_items(tmp_path):
    r = run(split(LINE), horizon=100, warmup=10, replications=1, seed=1)
    r.save(tmp_path, event_log=False)
    items = pd.read_parquet(tmp_path / "items.parquet")
    assert (items["parent"] == items["item"] // 2).all()
    text = write_report(r, tmp_path, figures=False).read_text()
    assert "Each item arrives in 2 parts (`split_items`): the flow metrics count whole items" in text
    assert "| step | visits per part |" in text


def test_the_docs_say_what_a_split_run_adds():
    """metrics.md lists the keys a split stream's summary adds and the parent column; model.md
    has the `parts` key; scenarios.md says split_items writes it."""
    r = run(split(LINE), horizon=100, warmup=10, replications=1, seed=1)
    docs = CONFIGS.parent / "docs"
    metrics = (docs / "metrics.md").read_text()
    assert "parts: {" + ", ".join(r.summary["parts"]) + "}" in metrics
    assert "`metrics.time_to_first_value` `{" + ", ".join(r.summary["metrics"]["time_to_first_value"]) + "}`" in metrics
    assert "time_to_first_value" in r.summary["replications"][0]
    assert "`replications[r].time_to_first_value`" in metrics
    columns = list(r.items.columns)
    assert columns[columns.index("parent") - 1] == "item" and "with `parent` after `item`" in metrics
    assert re.search(r"^\| `parts` \| integer \| `1` \|", (docs / "model.md").read_text(), flags=re.M)
    assert "The stream records the split: `parts: factor`" in (docs / "scenarios.md").read_text()


# --------------------------------------------------------------------------- the accelerators preset
def test_smaller_batches_does_not_double_the_throughput(tmp_path):
    """dvs_basic is stable: in units of the original items, smaller batches deliver what arrives,
    as the baseline does (0.9 a day), not twice as much."""
    names = ["baseline", "smaller_batches"]
    scenarios = {n: load_scenario(CONFIGS / "scenario" / f"{n}.yaml") for n in names}
    settings = Settings(horizon=600, warmup=60, replications=4, seed=1, progress=False)
    outcome = run_experiment(shipped("dvs_basic"), scenarios, settings, tmp_path, compare=True, figures=False,
                             event_log=False)
    t = outcome.comparison.table
    base = t[(t.scenario == "baseline") & (t.metric == "throughput")].iloc[0]
    small = t[(t.scenario == "smaller_batches") & (t.metric == "throughput")].iloc[0]
    # the same throughput within the runs' noise: overlapping intervals, a paired difference that
    # is not significant, a few per cent at most (today: +100 %)
    assert small["ci_lo"] <= base["ci_hi"] and base["ci_lo"] <= small["ci_hi"], (base.to_dict(), small.to_dict())
    assert small["diff_lo"] <= 0 <= small["diff_hi"] and not small["significant"]
    assert abs(small["pct_change"]) < 5
    rate = shipped("dvs_basic").arrival_rate()
    assert small["ci_lo"] <= rate <= small["ci_hi"] and base["ci_lo"] <= rate <= base["ci_hi"]
    split_summary = outcome.results["smaller_batches"].summary      # a real split since issue 13: halves that join
    assert split_summary["levels"]["part"]["throughput"]["mean"] == pytest.approx(2 * rate, rel=0.1)
    assert math.isfinite(split_summary["metrics"]["time_to_first_value"]["mean"])
