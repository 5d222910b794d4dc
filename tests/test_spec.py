"""Bad streams (vssim/model/spec.py) are refused before the run with one line naming the field, the
value and what is allowed (docs/model.md): as mappings, as files, and through `simulate`."""
from __future__ import annotations

import copy

import pytest
import yaml
from conftest import BACKLOG, BASE, assert_one_line, broken

import vssim
from vssim import SpecError, StreamSpec
from vssim.engines.registry import ENGINES


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
        "steps.build.pool",
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


