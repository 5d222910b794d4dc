"""vssim/records.py: the schema of a replication's records, the one builder, and the sink
protocol every engine feeds."""
from __future__ import annotations

import numpy as np
import pytest

import vssim
from vssim.analysis.streaming import RunStats
from vssim.engines.registry import ENGINES, run_records
from vssim.model.plan import Plan
from vssim.model.settings import Settings
from vssim.records import FAMILY_COLUMNS, HELPER_COLUMNS, ITEM_COLUMNS, VISIT_COLUMNS, Records, RecordsBuilder

LINE = {"name": "line", "arrivals": {"process": "poisson", "rate": 0.7},
        "pools": {"a": 1, "b": 2}, "steps": {"one": {"pool": "a", "work": {"dist": "exponential", "mean": 1.0}},
                                            "two": {"pool": "b", "work": {"dist": "gamma", "mean": 2.0, "cv": 0.5}}}}


def _columns(schema, n, start=0):
    return {k: (np.arange(start, start + n) % 2).astype(t) for k, t in schema.items()}


def test_records_hold_every_schema_column_with_its_type():
    plan = Plan.of(vssim.StreamSpec.from_dict(LINE))
    for engine in ENGINES:
        rec = run_records(engine, plan, 200.0, 20.0, 3, 0)
        assert isinstance(rec, Records)
        for name, dtype in {**ITEM_COLUMNS, **VISIT_COLUMNS}.items():
            assert getattr(rec, name).dtype == np.dtype(dtype), (engine, name)
        n = rec.n_items
        assert all(len(getattr(rec, k)) == n for k in ITEM_COLUMNS)
        assert len({len(getattr(rec, k)) for k in VISIT_COLUMNS}) == 1
        assert rec.step_names == ["one", "two"] and list(rec.step_capacity) == [1, 2]
        assert rec.warmup == 20.0 and rec.replication == 0 and rec.seed == 3


def test_the_builder_keeps_one_block_as_it_is_and_joins_several_in_order():
    plan = Plan.of(vssim.StreamSpec.from_dict(LINE))
    one = RecordsBuilder(plan, replication=1, seed=2, warmup=0.0)
    items, visits = _columns(ITEM_COLUMNS, 5), _columns(VISIT_COLUMNS, 7)
    one.add_items(**items)
    one.add_visits(**visits)
    rec = one.close(9.0)
    assert rec.arrival is items["arrival"] and rec.visit_end is visits["visit_end"]      # no copy
    assert rec.end == 9.0 and len(rec.rejected_times) == 0
    two = RecordsBuilder(plan, replication=1, seed=2, warmup=0.0)
    two.add_items(**_columns(ITEM_COLUMNS, 3))
    two.add_items(**_columns(ITEM_COLUMNS, 2, start=3))
    two.add_visits(**visits)
    two.add_rejected(np.array([1.0]))
    two.add_rejected(np.array([2.0, 3.0]))
    rec2 = two.close(9.0)
    assert np.array_equal(rec2.arrival, items["arrival"]) and list(rec2.rejected_times) == [1.0, 2.0, 3.0]


def test_the_builder_numbers_each_block_s_helpers_among_all_the_visits():
    """A swarm's helpers name a row of their block's visits; joined, a row of all the visits."""
    builder = RecordsBuilder(Plan.of(vssim.StreamSpec.from_dict(LINE)), replication=0, seed=0, warmup=0.0)
    assert len(builder.close(1.0).helper_visit) == 0                       # no swarm: no helpers
    for n, helped in ((4, [1, 3]), (3, [0])):
        builder.add_visits(**_columns(VISIT_COLUMNS, n))
        helpers = _columns(HELPER_COLUMNS, len(helped))
        helpers["helper_visit"] = np.array(helped, dtype=np.int64)
        builder.add_helpers(**helpers)
    assert builder.close(1.0).helper_visit.tolist() == [1, 3, 4]


def test_the_builder_refuses_a_block_without_a_column():
    builder = RecordsBuilder(Plan.of(vssim.StreamSpec.from_dict(LINE)), replication=0, seed=0, warmup=0.0)
    items = _columns(ITEM_COLUMNS, 2)
    del items["done_seq"]
    with pytest.raises(TypeError, match="item columns missing: done_seq"):
        builder.add_items(**items)


def test_a_streaming_sink_needs_only_columns_of_the_schema():
    assert RunStats.needs <= set(ITEM_COLUMNS) | set(VISIT_COLUMNS)
    assert RecordsBuilder.needs == set(ITEM_COLUMNS) | set(FAMILY_COLUMNS) | set(VISIT_COLUMNS)
    assert RecordsBuilder.flush_every is None and RunStats.flush_every > 0


@pytest.mark.parametrize("engine", list(ENGINES))
def test_every_engine_returns_what_its_sink_makes(engine):
    """The engine never knows its sink: the same call feeds a builder or running totals."""
    plan = Plan.of(vssim.StreamSpec.from_dict({**LINE, "pools": {"a": 1, "b": 1}}))
    for stats in ("full", "streaming"):
        settings = Settings(horizon=300.0, warmup=30.0, replications=1, seed=4, engine=engine, stats=stats)
        sink = (RunStats.for_plan(plan, replication=0, seed=4, warmup=30.0, horizon=300.0, batches=True,
                                  planning_interval=None) if stats == "streaming"
                else RecordsBuilder(plan, replication=0, seed=4, warmup=30.0))
        out = ENGINES[engine].run(plan, settings, 0, sink)
        assert (out is sink) if stats == "streaming" else isinstance(out, Records)
