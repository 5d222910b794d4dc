"""Bad streams (vssim/model/spec.py) are refused before the run with one line naming the field, the
value and what is allowed (docs/model.md): as mappings, as files, and through `simulate`."""
from __future__ import annotations

import copy

import pytest
import yaml
from conftest import BACKLOG, BASE, CONFIGS, assert_one_line, broken

import vssim
from vssim import SpecError, StreamSpec
from vssim.engines.registry import ENGINES
from vssim.model.spec import SCHEMA_VERSION


def test_base_stream_is_valid():
    assert StreamSpec.from_dict(copy.deepcopy(BASE)).step_names == [
        "define",
        "build",
        "validate",
        "release",
    ]


# (changes to the base stream, field path, offending value as shown, a word of the allowed set)
SPEC_CASES = {
    # unknown keys name the key and the allowed keys
    "unknown-top-key": ({"colour": "red"}, "colour", "colour", "steps"),
    "unknown-step-key": ({"steps.build.wip": 3}, "steps.build.wip", "wip", "wip_limit"),
    "unknown-arrivals-key": ({"arrivals.lambda": 1}, "arrivals.lambda", "lambda", "rate"),
    "unknown-pool-key": (
        {"pools.devs": {"size": 5, "people": 5}},
        "pools.devs.people",
        "people",
        "dispatch",
    ),
    "unknown-release-key": ({"release.wip": 5}, "release.wip", "wip", "conwip"),
    "unknown-item-type-key": (
        {"item_types.feature.weight": 2},
        "item_types.feature.weight",
        "weight",
        "share",
    ),
    # arrivals and item types
    "rate-zero": ({"arrivals.rate": 0}, "arrivals.rate", "got 0", "> 0"),
    "rate-negative": ({"arrivals.rate": -0.5}, "arrivals.rate", "got -0.5", "> 0"),
    "unknown-process": (
        {"arrivals.process": "magic"},
        "arrivals.process",
        "got 'magic'",
        "poisson",
    ),
    "shares-not-one": (
        {"item_types": {"feature": {"share": 0.5}, "defect": {"share": 0.3}}},
        "item_types",
        "0.5 + 0.3",
        "sum to 1",
    ),
    "unknown-class-of-service": (
        {"item_types.defect.class_of_service": "urgent"},
        "item_types.defect.class_of_service",
        "got 'urgent'",
        "expedite",
    ),
    # WIP limits
    "wip-zero": (
        {"steps.build.wip_limit": 0},
        "steps.build.wip_limit",
        "got 0",
        "positive integer or null",
    ),
    "wip-negative": (
        {"steps.build.wip_limit": -1},
        "steps.build.wip_limit",
        "got -1",
        "positive integer",
    ),
    "wip-fraction": (
        {"steps.build.wip_limit": 2.5},
        "steps.build.wip_limit",
        "got 2.5",
        "positive integer",
    ),
    "wip-text": (
        {"steps.build.wip_limit": "five"},
        "steps.build.wip_limit",
        "got 'five'",
        "positive integer",
    ),
    "wip-bool": (
        {"steps.build.wip_limit": True},
        "steps.build.wip_limit",
        "got true",
        "positive integer",
    ),
    # rework
    "rework-to-later-step": (
        {"steps.build.rework": {"probability": 0.1, "to": "validate"}},
        "steps.build.rework.to",
        "got 'validate'",
        "earlier",
    ),
    "rework-to-unknown-step": (
        {"steps.validate.rework.to": "qa"},
        "steps.validate.rework.to",
        "got 'qa'",
        "build",
    ),
    "rework-probability-one": (
        {"steps.validate.rework.probability": 1},
        "steps.validate.rework.probability",
        "got 1",
        "[0, 1)",
    ),
    "rework-probability-negative": (
        {"steps.validate.rework.probability": -0.1},
        "steps.validate.rework.probability",
        "got -0.1",
        "probability",
    ),
    # pools
    "unknown-pool": ({"steps.build.pool": "wizards"}, "steps.build.pool", "got 'wizards'", "devs"),
    "unknown-pool-in-list": (
        {"steps.build.pool": ["devs", "wizards"]},
        "steps.build.pool.1",
        "got 'wizards'",
        "testers",
    ),
    "pool-size-zero": ({"pools.ops": 0}, "pools.ops", "got 0", "positive integer"),
    "unknown-dispatch": (
        {"pools.devs": {"size": 5, "dispatch": "random"}},
        "pools.devs.dispatch",
        "got 'random'",
        "downstream_first",
    ),
    # distributions
    "lognormal-cv-negative": (
        {"steps.build.work": {"dist": "lognormal", "mean": 4.0, "cv": -1}},
        "steps.build.work.cv",
        "got -1",
        "> 0",
    ),
    "exponential-cv-not-one": (
        {"steps.build.work": {"dist": "exponential", "mean": 4.0, "cv": 2}},
        "steps.build.work.cv",
        "got 2",
        "exponential",
    ),
    "unknown-distribution": (
        {"steps.build.work": {"dist": "foo", "mean": 4.0}},
        "steps.build.work.dist",
        "got 'foo'",
        "lognormal",
    ),
    # backlog runs that could never finish
    "batch-above-own-wip-limit": (
        {"arrivals": BACKLOG, "steps.build.batch": 9},
        "steps.build.batch",
        "got 9",
        "<= steps.build.wip_limit (8)",
    ),
    "batch-above-next-wip-limit": (
        {"arrivals": BACKLOG, "steps.define.batch": 9},
        "steps.define.batch",
        "got 9",
        "<= steps.build.wip_limit (8)",
    ),
    "batch-above-conwip": (
        {
            "arrivals": BACKLOG,
            "release": {"policy": "conwip", "conwip": 3},
            "steps.validate.batch": 4,
        },
        "steps.validate.batch",
        "got 4",
        "<= release.conwip (3)",
    ),
    "backlog-count-zero": (
        {"arrivals": {"process": "backlog", "count": 0}},
        "arrivals.count",
        "got 0",
        "positive integer",
    ),
    # release
    "saturated-without-limit": (
        {"arrivals": {"process": "saturated"}},
        "arrivals.process",
        "'saturated'",
        "release.conwip",
    ),
    "conwip-policy-without-conwip": (
        {"release.policy": "conwip"},
        "release.conwip",
        "got null",
        "positive integer",
    ),
    "conwip-number-with-push": ({"release.conwip": 5}, "release.conwip", "got 5", "policy: conwip"),
    "unknown-release-policy": (
        {"release.policy": "pull"},
        "release.policy",
        "got 'pull'",
        "conwip",
    ),
    # traces
    "trace-not-sorted": (
        {"arrivals": {"process": "trace", "times": [1, 3, 2]}},
        "arrivals.times[2]",
        "got 2",
        "previous",
    ),
    "trace-mapping-not-sorted": (
        {"arrivals": {"process": "trace", "times": [{"time": 5}, {"time": 4.5}]}},
        "arrivals.times[1]",
        "got 4.5",
        "previous",
    ),
    "trace-missing-file": (
        {"arrivals": {"process": "trace", "file": "no_such_trace.csv"}},
        "arrivals.file",
        "got 'no_such_trace.csv'",
        "existing CSV file",
    ),
}


@pytest.mark.parametrize(
    ("changes", "path", "got", "allowed"), list(SPEC_CASES.values()), ids=list(SPEC_CASES)
)
def test_bad_stream_is_refused_with_one_line(changes, path, got, allowed):
    with pytest.raises(SpecError) as info:
        StreamSpec.from_dict(broken(changes))
    assert info.value.path == path
    assert_one_line(info.value, path, got, allowed)


def test_wip_limit_zero_message_is_exact():
    with pytest.raises(SpecError) as info:
        StreamSpec.from_dict(broken({"steps.build.wip_limit": 0}))
    assert str(info.value) == "steps.build.wip_limit: must be a positive integer or null, got 0"


def test_unknown_key_lists_every_allowed_key():
    with pytest.raises(SpecError) as info:
        StreamSpec.from_dict(broken({"steps.build.colour": "red"}))
    msg = assert_one_line(info.value, "steps.build.colour", "colour", "allowed")
    for key in ("pool", "work", "wip_limit", "handoff", "dependency", "rework", "batch", "cadence"):
        assert key in msg


def test_bad_stream_is_refused_by_simulate_before_any_replication(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a replication ran")

    for engine in ENGINES.values():
        monkeypatch.setattr(type(engine), "run", boom)
    with pytest.raises(SpecError, match=r"^steps\.build\.wip_limit: "):
        vssim.simulate(broken({"steps.build.wip_limit": 0}), horizon=10)




def test_missing_stream_file(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(SpecError) as info:
        vssim.load_stream(missing)
    assert_one_line(info.value, "stream", str(missing), "existing YAML file")


def test_invalid_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps: [build, validate\n  release: {pool: ops\n")
    with pytest.raises(SpecError) as info:
        vssim.load_stream(bad)
    msg = assert_one_line(info.value, str(bad), "line", "not valid YAML")
    assert "Traceback" not in msg


def test_stream_file_that_is_not_a_mapping(tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text("- build\n- validate\n")
    with pytest.raises(SpecError) as info:
        vssim.load_stream(bad)
    msg = assert_one_line(info.value, f"{bad}: line 1, column 1", "must be a mapping", "of keys to values")
    assert "build" not in msg            # its place, not its content (test_security.py)


def test_bad_field_in_a_file_is_named_like_in_a_dict(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump(broken({"steps.build.wip_limit": 0}), sort_keys=False))
    with pytest.raises(SpecError) as info:
        vssim.load_stream(f)
    assert str(info.value) == "steps.build.wip_limit: must be a positive integer or null, got 0"


def test_trace_file_is_found_next_to_the_stream_file(tmp_path):
    (tmp_path / "arrivals.csv").write_text("time,type\n0.5,feature\n1.0,defect\n2.5,\n")
    f = tmp_path / "traced.yaml"
    f.write_text(yaml.safe_dump(broken({"arrivals": {"process": "trace", "file": "arrivals.csv"}})))
    spec = vssim.load_stream(f)
    assert spec.arrivals.times == (0.5, 1.0, 2.5)
    assert spec.arrivals.types == ("feature", "defect", None)


def test_trace_file_without_time_column(tmp_path):
    (tmp_path / "arrivals.csv").write_text("when\n1\n2\n")
    with pytest.raises(SpecError) as info:
        StreamSpec.from_dict(
            broken({"arrivals": {"process": "trace", "file": "arrivals.csv"}}), base_dir=tmp_path
        )
    msg = assert_one_line(info.value, "arrivals.file", "no 'time' column in the header, line 1", "'time' column")
    assert "when" not in msg          # the header is the file's content: never quoted (test_security.py)




# ----------------------------------------------------------------- huge or tiny numbers (issue 12)
# Each was accepted and then misread (an overflowed square, an infinite rate, a silently ignored
# batch) or escaped as another exception (ZeroDivisionError, MemoryError, OverflowError in the run).
HUGE_OR_TINY = {
    "lognormal-cv-square-overflows": (
        {"steps.build.work": {"dist": "lognormal", "mean": 4.0, "cv": 1e200}}, "steps.build.work.cv", "got 1e+200",
        "<= 100"),
    "gamma-cv-square-overflows": (
        {"steps.build.work": {"dist": "gamma", "mean": 4.0, "cv": 1e200}}, "steps.build.work.cv", "got 1e+200",
        "<= 100"),
    "gamma-cv-tiny-divides-by-zero": (
        {"steps.build.work": {"dist": "gamma", "mean": 4.0, "cv": 1e-200}}, "steps.build.work.cv", "got 1e-200",
        ">= 1e-06"),
    "batch-1e308": ({"steps.release.batch": 1e308}, "steps.release.batch", "got 1e+308", "<= 1000000000"),
    "pool-of-1e12-people": ({"pools.ops": 10**12}, "pools.ops", "got 1000000000000", "<= 1000000"),
    "pool-of-1e30-people": ({"pools.devs.size": 10**30}, "pools.devs.size", f"got {10**30}", "<= 1000000"),
    "too-many-people-in-all": (
        {"pools.analysts": 500_000, "pools.testers": 500_000}, "pools", "got 1000006",
        "at most 1000000 people in all"),
    "work-mean-1e300": (
        {"steps.build.work": {"dist": "gamma", "mean": 1e300, "cv": 1.0}}, "steps.build.work.mean", "got 1e+300",
        "<= 1e+12"),
    "work-mean-1e-300": (
        {"steps.build.work": {"dist": "exponential", "mean": 1e-300}}, "steps.build.work.mean", "got 1e-300",
        ">= 1e-09"),
    "constant-work-1e300": ({"steps.release.work": 1e300}, "steps.release.work", "got 1e+300", "<= 1e+12"),
    "handoff-1e300": (
        {"steps.define.handoff": {"dist": "exponential", "mean": 1e300}}, "steps.define.handoff.mean", "got 1e+300",
        "<= 1e+12"),
    "dependency-delay-1e300": (
        {"steps.build.dependency": {"probability": 0.5, "delay": 1e300}}, "steps.build.dependency.delay",
        "got 1e+300", "<= 1e+12"),
    "rate-1e300": ({"arrivals.rate": 1e300}, "arrivals.rate", "got 1e+300", "<= 1e+09"),
    "rate-1e-300": ({"arrivals.rate": 1e-300}, "arrivals.rate", "got 1e-300", ">= 1e-12"),
    "interval-whose-rate-is-inf": (
        {"arrivals": {"process": "deterministic", "interval": 5e-324}}, "arrivals.interval", "got 5e-324",
        ">= 1e-09"),
    "backlog-1e30": (
        {"arrivals": {"process": "backlog", "count": 10**30}}, "arrivals.count", f"got {10**30}", "<= 1000000000"),
    "wip-limit-1e30": ({"steps.build.wip_limit": 10**30}, "steps.build.wip_limit", f"got {10**30}",
                       "<= 1000000000 or null"),
    "conwip-1e30": ({"release": {"policy": "conwip", "conwip": 10**30}}, "release.conwip", f"got {10**30}",
                    "<= 1000000000"),
    "backlog-limit-1e30": ({"release.backlog_limit": 1e30}, "release.backlog_limit", "got 1e+30", "<= 1000000000"),
    "cadence-1e-300": ({"steps.release.cadence": 1e-300}, "steps.release.cadence", "got 1e-300", ">= 1e-09"),
    "cadence-1e300": ({"steps.release.cadence": 1e300}, "steps.release.cadence", "got 1e+300", "<= 1e+12"),
    "interruption-rate-1e300": (
        {"pools.devs.interruptions.rate": 1e300}, "pools.devs.interruptions.rate", "got 1e+300", "<= 1e+09"),
    "interruption-duration-1e300": (
        {"pools.devs.interruptions.duration": {"dist": "exponential", "mean": 1e300}},
        "pools.devs.interruptions.duration.mean", "got 1e+300", "<= 1e+12"),
    "switch-cost-1e300": ({"pools.devs.switch_cost": 1e300}, "pools.devs.switch_cost", "got 1e+300", "<= 1e+12"),
    "size-1e300": ({"item_types.feature.size": 1e300}, "item_types.feature.size", "got 1e+300", "<= 1e+12"),
    "size-1e-300": ({"item_types.feature.size": 1e-300}, "item_types.feature.size", "got 1e-300", ">= 1e-09"),
    "size-distribution-1e300": (
        {"item_types.feature.size": {"dist": "gamma", "mean": 1e300, "cv": 0.5}}, "item_types.feature.size.mean",
        "got 1e+300", "<= 1e+12"),
    "business-value-1e308": (
        {"item_types.feature.business_value": 1e308}, "item_types.feature.business_value", "got 1e+308", "<= 1e+12"),
    "trace-time-1e308": (
        {"arrivals": {"process": "trace", "times": [0, 1e308]}}, "arrivals.times[1]", "got 1e+308", "<= 1e+12"),
    "trace-size-1e300": (
        {"arrivals": {"process": "trace", "times": [{"time": 1, "size": 1e300}]}}, "arrivals.times[0].size",
        "got 1e+300", "<= 1e+12"),
    "uniform-high-1e308": (
        {"steps.build.work": {"dist": "uniform", "low": 0, "high": 1.7e308}}, "steps.build.work.high",
        "got 1.7e+308", "<= 1e+12"),
    "empirical-value-1e308": (
        {"steps.build.work": {"dist": "empirical", "values": [1, 1e308]}}, "steps.build.work.values[1]",
        "got 1e+308", "<= 1e+12"),
}


@pytest.mark.parametrize(("changes", "path", "got", "allowed"), list(HUGE_OR_TINY.values()), ids=list(HUGE_OR_TINY))
def test_huge_or_tiny_number_is_refused_with_one_line(changes, path, got, allowed):
    with pytest.raises(SpecError) as info:
        StreamSpec.from_dict(broken(changes))
    assert info.value.path == path
    assert_one_line(info.value, path, got, allowed)


@pytest.mark.parametrize("engine", ["simpy", "fast"])
def test_largest_pool_is_simulated_as_written(engine):
    """10**6 people (the bound) run in seconds: with that many, no item ever waits for a person."""
    d = {"schema_version": 2, "name": "crowd", "arrivals": {"process": "poisson", "rate": 2.0},
         "pools": {"crowd": 10**6}, "steps": {"serve": {"pool": "crowd", "work": {"dist": "exponential", "mean": 1.0}}}}
    r = vssim.simulate(StreamSpec.from_dict(d), horizon=300, warmup=0, replications=1, engine=engine, progress=False)
    visits = r.visits
    assert len(visits) > 400 and visits["end"].notna().sum() > 400
    assert (visits["start"] == visits["ready"]).all()              # every item starts at once


# ----------------------------------------------------------------- schema versions
V1_NOTE = "(this file is schema version 1: version 2 bounded every number, see docs/model.md)"


def _versioned(version, changes=None):
    d = broken(changes or {})
    d.pop("schema_version", None)
    if version is not None:
        d["schema_version"] = version
    return d


def test_shipped_streams_are_of_the_current_version():
    for path in sorted((CONFIGS / "stream").glob("*.yaml")):
        assert yaml.safe_load(path.read_text())["schema_version"] == SCHEMA_VERSION, path.name
        assert vssim.load_stream(path).schema_version == SCHEMA_VERSION


@pytest.mark.parametrize("version", [None, 1], ids=["no-key", "version-1"])
def test_old_file_refused_by_a_new_bound_is_told_what_changed(version):
    with pytest.raises(SpecError) as info:
        StreamSpec.from_dict(_versioned(version, {"steps.release.batch": 1e308}))
    assert str(info.value) == f"steps.release.batch: must be a positive integer <= 1000000000, got 1e+308 {V1_NOTE}"


def test_old_file_on_disk_is_told_what_changed(tmp_path):
    f = tmp_path / "old.yaml"
    f.write_text(yaml.safe_dump(_versioned(None, {"steps.build.work": {"dist": "gamma", "mean": 4, "cv": 1e-200}})))
    with pytest.raises(SpecError) as info:
        vssim.load_stream(f)
    msg = assert_one_line(info.value, "steps.build.work.cv", "got 1e-200", ">= 1e-06")
    assert msg.endswith(V1_NOTE)


def test_current_file_is_told_the_bound_only():
    with pytest.raises(SpecError) as info:
        StreamSpec.from_dict(broken({"steps.release.batch": 1e308}))
    assert str(info.value) == "steps.release.batch: must be a positive integer <= 1000000000, got 1e+308"


@pytest.mark.parametrize("version", [None, 1], ids=["no-key", "version-1"])
def test_old_file_refused_by_an_old_check_keeps_its_message(version):
    with pytest.raises(SpecError) as info:
        StreamSpec.from_dict(_versioned(version, {"steps.build.wip_limit": 0}))
    assert str(info.value) == "steps.build.wip_limit: must be a positive integer or null, got 0"


def test_old_file_that_passes_every_check_is_read_as_version_1():
    old = StreamSpec.from_dict(_versioned(None))
    assert old.schema_version == 1
    assert old == StreamSpec.from_dict(copy.deepcopy(BASE))          # the same stream, whatever its version


def test_file_for_a_newer_vssim_is_refused():
    with pytest.raises(SpecError) as info:
        StreamSpec.from_dict(_versioned(SCHEMA_VERSION + 1))
    assert str(info.value) == (f"schema_version: written for a newer vssim: schema_version {SCHEMA_VERSION + 1}; "
                               f"this vssim reads up to {SCHEMA_VERSION}")


@pytest.mark.parametrize("version", [0, -1, "2", 1.5, True, None, float("nan")], ids=repr)
def test_invalid_schema_version_is_refused(version):
    with pytest.raises(SpecError) as info:
        StreamSpec.from_dict(broken({"schema_version": version}))
    assert_one_line(info.value, "schema_version", "got", f"a positive integer <= {SCHEMA_VERSION}")
