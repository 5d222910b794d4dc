"""The simulate API: determinism, common random numbers, summaries and saved files."""
from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import vssim
from vssim.analysis.intervals import ci95
from vssim.analysis.summary import predictability
from vssim.model.spec import CLASSES_OF_SERVICE
from vssim.records import Records

EXPO = {"dist": "exponential", "mean": 1.0}
LINE = {
    "name": "line",
    "arrivals": {"process": "poisson", "rate": 0.7},
    "item_types": {"a": {"share": 0.5}, "b": {"share": 0.5, "size": 2.0, "class_of_service": "expedite"}},
    "pools": {"p": 1, "q": 2},
    "steps": {
        "one": {"pool": "p", "work": {"dist": "lognormal", "mean": 0.5, "cv": 0.7}},
        "two": {"pool": "q", "work": EXPO, "rework": {"probability": 0.1, "to": "one"}},
    },
}


def sim(d, **kw):
    kw = {"horizon": 3000, "warmup": 100, "replications": 3, "seed": 7, **kw}
    return vssim.simulate(vssim.StreamSpec.from_dict(d), **kw)


def test_same_seed_same_summary_bit_for_bit():
    a, b = sim(LINE), sim(LINE)
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)
    pd.testing.assert_frame_equal(a.items, b.items)
    c = sim(LINE, seed=8)
    assert c.summary["metrics"]["lead_time"]["mean"] != a.summary["metrics"]["lead_time"]["mean"]


def test_replications_are_independent_streams():
    r = sim(LINE)
    leads = [rep["lead_time"] for rep in r.summary["replications"]]
    assert len(set(leads)) == 3
    # replication r of a longer run is the same as replication r of a shorter one
    r2 = sim(LINE, replications=2)
    assert r2.summary["replications"][1]["lead_time"] == leads[1]


def test_common_random_numbers_across_scenarios():
    """A changed WIP limit changes the timing, not the work each item brings."""
    changed = copy.deepcopy(LINE)
    changed["steps"]["two"]["wip_limit"] = 2
    a, b = sim(LINE, replications=1), sim(changed, replications=1)
    va, vb = a.visits, b.visits
    first = lambda v: v[v.step == "one"].groupby("item")["work"].first()  # noqa: E731
    fa, fb = first(va), first(vb)
    common = fa.index.intersection(fb.index)
    assert len(common) > 1000
    np.testing.assert_array_equal(fa.loc[common].to_numpy(), fb.loc[common].to_numpy())
    np.testing.assert_array_equal(a.items["arrival"].to_numpy(), b.items["arrival"].to_numpy())
    np.testing.assert_array_equal(a.items["type"].to_numpy(), b.items["type"].to_numpy())


def test_ci95_is_the_student_t_interval():
    x = [3.1, 2.7, 3.4, 2.9, 3.3]
    lo, hi = ci95(x)
    want = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert lo == pytest.approx(want[0], rel=1e-12) and hi == pytest.approx(want[1], rel=1e-12)
    assert ci95([1.0]) == [None, None]


def test_summary_mean_is_the_mean_of_replication_means_and_inside_its_ci():
    r = sim(LINE, replications=5)
    m = r.summary["metrics"]
    for key in ("lead_time", "throughput", "wip", "flow_efficiency"):
        reps = [rep[key] for rep in r.summary["replications"]]
        assert m[key]["mean"] == pytest.approx(np.mean(reps), rel=1e-12)
        lo, hi = m[key]["ci95"]
        assert lo < m[key]["mean"] < hi
    lead = r.items.query("arrival >= 100")["lead_time"].dropna().to_numpy()
    assert m["lead_time"]["p85"] == pytest.approx(np.percentile(lead, 85))
    assert m["lead_time"]["count"] == len(lead)
    assert sum(m["flow_distribution"].values()) == pytest.approx(1.0)


def test_single_replication_gets_a_batch_means_interval():
    r = sim(LINE, replications=1, horizon=20000)
    lo, hi = r.summary["metrics"]["lead_time"]["ci95"]
    assert lo is not None and lo < r.summary["metrics"]["lead_time"]["mean"] < hi


def _records(done, value, warmup=0.0, end=100.0) -> Records:
    n = len(done)
    z = np.zeros(n)
    e = np.zeros(0)
    ei = np.zeros(0, dtype=np.int64)
    return Records(replication=0, seed=0, warmup=warmup, end=end, step_names=["s"], type_names=["t"],
                   pool_names=["p"], person_pool=np.zeros(1, dtype=np.int64), step_capacity=np.ones(1, dtype=np.int64),
                   item_type=np.zeros(n, dtype=np.int64), item_priority=np.full(n, 2), item_size=z + 1,
                   item_value=np.asarray(value, float), arrival=z, commit=z, done=np.asarray(done, float),
                   touch=z, rework_count=np.zeros(n, dtype=np.int64), visit_item=ei, visit_step=ei,
                   visit_enter=e, visit_ready=e, visit_start=e, visit_end=e, visit_leave=e, visit_person=ei,
                   visit_work=e, visit_reworked=np.zeros(0, dtype=bool), rejected_times=e,
                   arrival_seq=np.arange(n), commit_seq=np.arange(n), done_seq=np.arange(n),
                   visit_start_seq=ei, visit_end_seq=ei, class_names=list(CLASSES_OF_SERVICE))


def test_predictability_plans_from_the_streams_own_past():
    # four PIs of 25: delivered 10, 10, 5, 12 items of value 1
    done = [1.0] * 10 + [30.0] * 10 + [60.0] * 5 + [80.0] * 12
    p = predictability(_records(done, [1.0] * len(done)), 25.0)
    ratios = [10 / 10, 5 / 10, 12 / (25 / 3)]
    assert p["intervals"] == 4
    assert p["mean"] == pytest.approx(np.mean(ratios))
    assert p["in_band"] == pytest.approx(1 / 3)      # only 1.0 lies in [0.8, 1.0]


def test_predictability_weights_by_business_value():
    done = [1.0, 2.0, 30.0, 31.0]
    p = predictability(_records(done, [1.0, 3.0, 2.0, 2.0], end=50.0), 25.0)
    assert p["mean"] == pytest.approx(4.0 / 4.0)


def test_save_writes_every_file_atomically(tmp_path):
    r = sim(LINE, replications=2, horizon=500)
    r.save(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["events.csv", "items.parquet", "steps.parquet", "summary.json"]
    items = pd.read_parquet(tmp_path / "items.parquet")
    assert len(items) == len(r.items)
    assert json.loads((tmp_path / "summary.json").read_text())["stream"] == "line"
    log = pd.read_csv(tmp_path / "events.csv")
    assert list(log.columns) == ["replication", "case", "activity", "lifecycle", "timestamp", "resource"]
    assert set(log.lifecycle) == {"start", "complete"}


def test_progress_bar_does_not_change_results(capsys):
    a = sim(LINE, replications=2, horizon=500, progress=True)
    b = sim(LINE, replications=2, horizon=500, progress=False)
    assert json.dumps(a.summary) == json.dumps(b.summary)
    assert "line" in capsys.readouterr().err


def test_rejections_are_counted_and_kept_apart():
    d = copy.deepcopy(LINE)
    d["release"] = {"backlog_limit": 0}
    d["steps"]["one"]["wip_limit"] = 1
    r = sim(d, replications=1, horizon=2000, warmup=0)
    rejected = r.summary["metrics"]["rejected"]
    assert rejected > 0
    assert len(r.records[0].rejected_times) == rejected
    assert r.items["commit"].notna().sum() == len(r.items)   # every kept item was committed
