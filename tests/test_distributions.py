"""Tests of vssim.model.distributions: moments, reproducibility, round trip, one-line errors."""

from __future__ import annotations

import dataclasses
import json
import math
import zlib
from types import MappingProxyType

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from vssim.errors import SpecError
from vssim.model.distributions import BUILTINS, Distribution, distribution_variance, parse_distribution

N = 200_000
Z = 5.0  # tolerance in standard errors: a false alarm has probability ~6e-7 per check
PATH = "steps.build.work"


def _tri_var(lo: float, mo: float, hi: float) -> float:
    return (lo * lo + mo * mo + hi * hi - lo * mo - lo * hi - mo * hi) / 18


def _pert_ref(lo: float, mo: float, hi: float, lam: float = 4.0):
    a = 1 + lam * (mo - lo) / (hi - lo)
    b = 1 + lam * (hi - mo) / (hi - lo)
    return st.beta(a, b, loc=lo, scale=hi - lo)


# (spec, target mean, target cv, reference frozen scipy distribution for skewness & kurtosis).
# Targets come from the spec (textbook formulas), not from the module: that is what is tested.
# The reference only sizes the standard error of the sample cv.
MOMENT_CASES = {
    "exponential": ({"dist": "exponential", "mean": 2.5}, 2.5, 1.0, st.expon(scale=2.5)),
    "lognormal": (
        {"dist": "lognormal", "mean": 1.5, "cv": 0.6},
        1.5,
        0.6,
        st.lognorm(s=math.sqrt(math.log1p(0.36)), scale=1.5 / math.sqrt(1.36)),
    ),
    "gamma": ({"dist": "gamma", "mean": 4.0, "cv": 1.3}, 4.0, 1.3, st.gamma(1 / 1.69, scale=6.76)),
    "weibull_low_cv": ({"dist": "weibull", "mean": 3.0, "cv": 0.3}, 3.0, 0.3, None),
    "weibull_high_cv": ({"dist": "weibull", "mean": 3.0, "cv": 1.8}, 3.0, 1.8, None),
    "uniform": (
        {"dist": "uniform", "low": 1.0, "high": 4.0},
        2.5,
        math.sqrt(9 / 12) / 2.5,
        st.uniform(1, 3),
    ),
    "uniform_mean_cv": (
        {"dist": "uniform", "mean": 2.0, "cv": 0.4},
        2.0,
        0.4,
        st.uniform(2 - 0.8 * math.sqrt(3), 1.6 * math.sqrt(3)),
    ),
    "triangular": (
        {"dist": "triangular", "low": 1.0, "mode": 2.0, "high": 6.0},
        3.0,
        math.sqrt(_tri_var(1, 2, 6)) / 3.0,
        st.triang(0.2, loc=1, scale=5),
    ),
    "pert": (
        {"dist": "pert", "low": 1.0, "mode": 2.0, "high": 6.0},
        (1 + 4 * 2 + 6) / 6,
        _pert_ref(1, 2, 6).std() / _pert_ref(1, 2, 6).mean(),
        _pert_ref(1, 2, 6),
    ),
    "pert_lambda": (
        {"dist": "pert", "low": 0.0, "mode": 1.0, "high": 10.0, "lambda": 2.0},
        (0 + 2 * 1 + 10) / 4,
        _pert_ref(0, 1, 10, 2).std() / 3.0,
        _pert_ref(0, 1, 10, 2),
    ),
    "empirical": (
        {"dist": "empirical", "values": [1, 2, 2, 3, 7]},
        3.0,
        math.sqrt(np.var([1, 2, 2, 3, 7])) / 3.0,
        st.rv_discrete(values=([1, 2, 3, 7], [0.2, 0.4, 0.2, 0.2])),
    ),
    "scipy_lognorm": ({"dist": "lognorm", "s": 0.5, "scale": 2.0}, None, None, None),
    "scipy_pareto": ({"dist": "pareto", "b": 6.0}, None, None, None),
    "scipy_poisson": ({"dist": "poisson", "mu": 3.0}, None, None, None),
    "scipy_beta": ({"dist": "beta", "a": 2.0, "b": 5.0}, None, None, None),
}


def _reference(d: Distribution, ref):
    """Reference frozen distribution; built from the module's derived numbers only if needed."""
    if ref is not None:
        return ref
    if d.name == "weibull":
        return st.weibull_min(d.derived["shape"], scale=d.derived["scale"])
    return getattr(st, d.name)(**d.params)


@pytest.mark.parametrize("case", MOMENT_CASES, ids=str)
def test_sample_mean_and_cv_within_standard_errors(case):
    """The sample mean and cv hit the requested ones within Z delta-method standard errors."""
    spec, mean, cv, ref = MOMENT_CASES[case]
    d = parse_distribution(spec, PATH)
    ref = _reference(d, ref)
    m_ref, v_ref, skew, exkurt = (float(x) for x in ref.stats(moments="mvsk"))
    mean = m_ref if mean is None else mean
    cv = math.sqrt(v_ref) / m_ref if cv is None else cv
    assert d.mean == pytest.approx(mean, rel=1e-12)
    assert ref.mean() == pytest.approx(mean, rel=1e-9)  # the reference is the same distribution
    assert ref.std() / ref.mean() == pytest.approx(cv, rel=1e-9)

    x = d.sample(np.random.default_rng(zlib.crc32(case.encode())), N)
    assert x.dtype == np.float64 and x.shape == (N,)
    assert (x >= 0).all()
    se_mean = mean * cv / math.sqrt(N)
    assert abs(x.mean() - mean) <= Z * se_mean
    # Var(s/x̄) ≈ cv²/n · (cv² − skew·cv + (kurtosis − 1)/4), kurtosis = excess + 3
    se_cv = cv * math.sqrt((cv * cv - skew * cv + (exkurt + 2) / 4) / N)
    assert abs(x.std() / x.mean() - cv) <= Z * se_cv


def test_deterministic_and_shorthand():
    """A plain number is a constant; is_deterministic lets the engine skip sampling."""
    for spec in (
        2.5,
        {"dist": "deterministic", "value": 2.5},
        {"dist": "deterministic", "mean": 2.5},
    ):
        d = parse_distribution(spec, PATH)
        assert d.is_deterministic and d.mean == 2.5 and d.name == "deterministic"
        x = d.sample(np.random.default_rng(0), 7)
        assert x.dtype == np.float64 and np.array_equal(x, np.full(7, 2.5))
        assert d.to_dict() == {"dist": "deterministic", "value": 2.5}
    assert not parse_distribution({"dist": "gamma", "mean": 1, "cv": 1}, PATH).is_deterministic
    assert parse_distribution(0, PATH).sample(np.random.default_rng(0), 3).tolist() == [0, 0, 0]


def test_infinite_or_undefined_mean_is_nan():
    """scipy distributions without a finite mean report math.nan, never inf."""
    assert math.isnan(parse_distribution({"dist": "pareto", "b": 0.8}, PATH).mean)
    assert math.isnan(parse_distribution({"dist": "halfcauchy"}, PATH).mean)


def test_nonnegative_false_allows_negative_support():
    """Outside work times (e.g. offsets) negative support is fine when asked for."""
    d = parse_distribution({"dist": "norm", "loc": 1.0, "scale": 2.0}, PATH, nonnegative=False)
    assert d.mean == 1.0
    x = d.sample(np.random.default_rng(1), N)
    assert abs(x.mean() - 1.0) <= Z * 2.0 / math.sqrt(N)
    assert parse_distribution(-2, PATH, nonnegative=False).mean == -2
    u = parse_distribution({"dist": "uniform", "low": -1, "high": 1}, PATH, nonnegative=False)
    assert u.mean == 0


# ----------------------------------------------------------------- reproducibility

REPRO_SPECS = [
    {"dist": "exponential", "mean": 2.0},
    {"dist": "lognormal", "mean": 1.0, "cv": 0.8},
    {"dist": "gamma", "mean": 4.0, "cv": 0.3},  # shape > 1 and < 1 take different code paths
    {"dist": "gamma", "mean": 4.0, "cv": 2.0},
    {"dist": "weibull", "mean": 2.0, "cv": 1.5},
    {"dist": "uniform", "low": 1.0, "high": 3.0},
    {"dist": "triangular", "low": 1.0, "mode": 2.0, "high": 5.0},
    {"dist": "pert", "low": 1.0, "mode": 2.0, "high": 5.0},
    {"dist": "empirical", "values": [0.5, 1.0, 4.0]},
    {"dist": "deterministic", "value": 1.0},
]
SCIPY_SPECS = [{"dist": "lognorm", "s": 0.7}, {"dist": "poisson", "mu": 2.0}]


@pytest.mark.parametrize("spec", REPRO_SPECS + SCIPY_SPECS, ids=lambda s: s["dist"])
def test_same_seed_same_draws(spec):
    d = parse_distribution(spec, PATH)
    a = d.sample(np.random.default_rng(42), 1000)
    b = d.sample(np.random.default_rng(42), 1000)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("spec", REPRO_SPECS, ids=lambda s: s["dist"])
@pytest.mark.parametrize("split", [(1000, 1000), (7, 13), (1, 1024)])
def test_blocks_concatenate(spec, split):
    """Block size must not change a run: a+b draws equal one call of a+b (built-ins only;
    scipy distributions are documented as not guaranteed)."""
    d = parse_distribution(spec, PATH)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        parts = np.concatenate([d.sample(rng, n) for n in split])
        assert np.array_equal(parts, d.sample(np.random.default_rng(seed), sum(split)))


@pytest.mark.parametrize(
    "spec",
    [
        *REPRO_SPECS,
        *SCIPY_SPECS,
        {"dist": "binom", "n": 10, "p": 0.3},
        3,
        {"dist": "uniform", "mean": 2, "cv": 0.5},
    ],
    ids=lambda s: s["dist"] if isinstance(s, dict) else repr(s),
)
def test_to_dict_round_trip(spec):
    """parse(to_dict(d)) is the same distribution: equal, same mean, same draws; plain types."""
    d = parse_distribution(spec, PATH)
    data = d.to_dict()
    assert json.loads(json.dumps(data)) == data
    again = parse_distribution(data, PATH)
    assert again == d and again.to_dict() == data
    assert again.mean == d.mean or (math.isnan(again.mean) and math.isnan(d.mean))
    assert np.array_equal(
        again.sample(np.random.default_rng(5), 500), d.sample(np.random.default_rng(5), 500)
    )


def test_immutable_and_any_mapping_accepted():
    """Validated once, never changed after; any Mapping (not only dict) is a spec."""
    d = parse_distribution(MappingProxyType({"dist": "gamma", "mean": 2, "cv": 0.5}), PATH)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.mean = 3.0
    with pytest.raises(TypeError):
        d.params["mean"] = 3.0
    assert d.to_dict() == {"dist": "gamma", "mean": 2.0, "cv": 0.5}
    assert set(BUILTINS) >= {"exponential", "lognormal", "gamma", "weibull", "empirical"}


# ----------------------------------------------------------------- empirical files


def test_empirical_file_one_number_per_line(tmp_path, monkeypatch):
    """Relative paths are taken from the working directory; to_dict keeps an absolute path."""
    (tmp_path / "days.txt").write_text("# lead times\n1.5\n\n2.5\n3\n")
    monkeypatch.chdir(tmp_path)
    d = parse_distribution({"dist": "empirical", "file": "days.txt"}, PATH)
    assert d.mean == pytest.approx(7 / 3)
    assert d.to_dict() == {"dist": "empirical", "file": str(tmp_path / "days.txt")}
    assert set(d.sample(np.random.default_rng(0), 100)) == {1.5, 2.5, 3.0}
    monkeypatch.chdir("/")
    assert parse_distribution(d.to_dict(), PATH) == d


def test_empirical_csv_uses_first_numeric_column(tmp_path):
    f = tmp_path / "items.csv"
    f.write_text("name,days,points\nA,2,5\nB,4,8\nC,9,13\n")
    d = parse_distribution({"dist": "empirical", "file": str(f)}, PATH)
    assert d.mean == 5.0


# ----------------------------------------------------------------- errors


def _files(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "text.txt").write_text("1\n2\nabc\n")
    (tmp_path / "neg.txt").write_text("1\n-2\n")
    return tmp_path


W = PATH
ERROR_CASES = [
    # (value, exact message or None, fragments that must appear)
    ({"dist": "gamma", "mean": 1, "cv": -1}, f"{W}.cv: must be a number > 0, got -1", []),
    (
        {"dist": "foo", "mean": 1},
        f"{W}.dist: must be one of exponential, lognormal, gamma, weibull, deterministic, "
        "uniform, triangular, pert, empirical or a scipy.stats distribution name, got 'foo'",
        [],
    ),
    (
        {"dist": "lognormal", "mean": 1, "sigma": 2},
        f"{W}.sigma: unknown key for lognormal; allowed: mean, cv",
        [],
    ),
    ({"dist": "gamma", "cv": 1}, f"{W}.mean: required for gamma", []),
    (
        {"dist": "lognorml", "mean": 1, "cv": 1},
        None,
        [f"{W}.dist", "'lognorml'", "did you mean 'lognormal'"],
    ),
    ({"dist": 3}, None, [f"{W}.dist:", "got 3", "scipy.stats distribution name"]),
    ({"mean": 1}, None, [f"{W}.dist: required", "exponential"]),
    ("abc", f"{W}: must be a number or a mapping {{dist: NAME, ...}}, got 'abc'", []),
    (None, f"{W}: must be a number or a mapping {{dist: NAME, ...}}, got null", []),
    (-3, f"{W}: must be a number >= 0 or a mapping {{dist: NAME, ...}}, got -3", []),
    (float("inf"), None, [f"{W}:", "got inf", "number >= 0"]),
    ({"dist": "gamma", "mean": True, "cv": 1}, f"{W}.mean: must be a number > 0, got true", []),
    ({"dist": "gamma", "mean": "4", "cv": 1}, f"{W}.mean: must be a number > 0, got '4'", []),
    (
        {"dist": "lognormal", "mean": 1, "cv": float("nan")},
        f"{W}.cv: must be a number > 0, got nan",
        [],
    ),
    ({"dist": "lognormal", "mean": 0, "cv": 1}, f"{W}.mean: must be a number > 0, got 0", []),
    ({"dist": "exponential", "mean": 1, "cv": 0.5}, None, [f"{W}.cv:", "must be 1", "got 0.5"]),
    ({"dist": "exponential", "mean": -1}, f"{W}.mean: must be a number > 0, got -1", []),
    (
        {"dist": "weibull", "mean": 1, "cv": 100},
        f"{W}.cv: must be a number in [0.01, 50] for weibull, got 100",
        [],
    ),
    ({"dist": "weibull", "mean": 1, "cv": 0.001}, None, [f"{W}.cv:", "[0.01, 50]", "got 0.001"]),
    ({"dist": "deterministic", "value": -1}, f"{W}.value: must be a number >= 0, got -1", []),
    ({"dist": "deterministic"}, f"{W}.value: required for deterministic", []),
    ({"dist": "deterministic", "value": 1, "mean": 2}, None, [f"{W}.mean:", "value 1", "mean 2"]),
    (
        {"dist": "uniform", "low": 2, "high": 2},
        None,
        [f"{W}.high:", "> low = 2", "deterministic", "got 2"],
    ),
    ({"dist": "uniform", "low": 3, "high": 2}, f"{W}.high: must be a number > low = 3, got 2", []),
    ({"dist": "uniform", "low": -1, "high": 2}, f"{W}.low: must be a number >= 0, got -1", []),
    ({"dist": "uniform", "high": 2}, f"{W}.low: required for uniform", []),
    (
        {"dist": "uniform", "mean": 1, "cv": 0.8},
        None,
        [f"{W}.cv:", "(0, 0.5774]", "low would be < 0", "got 0.8"],
    ),
    (
        {"dist": "uniform", "low": 1, "high": 2, "mean": 1},
        None,
        [f"{W}.mean: unknown key for uniform", "allowed: low, high"],
    ),
    (
        {"dist": "triangular", "low": 1, "mode": 5, "high": 3},
        f"{W}.mode: must be a number in [low, high] = [1, 3], got 5",
        [],
    ),
    (
        {"dist": "triangular", "low": 1, "mode": 1, "high": 1},
        None,
        [f"{W}.high:", "deterministic", "got 1"],
    ),
    ({"dist": "triangular", "low": 1, "high": 3}, f"{W}.mode: required for triangular", []),
    (
        {"dist": "pert", "low": 1, "mode": 2, "high": 3, "lambda": 0},
        f"{W}.lambda: must be a number > 0, got 0",
        [],
    ),
    (
        {"dist": "pert", "low": 1, "mode": 2, "high": 3, "lamda": 3},
        None,
        [f"{W}.lamda: unknown key for pert", "lambda"],
    ),
    (
        {"dist": "empirical", "values": []},
        f"{W}.values: must be a non-empty list of numbers, got []",
        [],
    ),
    (
        {"dist": "empirical", "values": "1,2"},
        f"{W}.values: must be a non-empty list of numbers, got '1,2'",
        [],
    ),
    (
        {"dist": "empirical", "values": [1, "x"]},
        f"{W}.values[1]: must be a number >= 0, got 'x'",
        [],
    ),
    ({"dist": "empirical", "values": [1, -2]}, f"{W}.values[1]: must be a number >= 0, got -2", []),
    ({"dist": "empirical"}, None, [f"{W}.values: required for empirical", "file"]),
    ({"dist": "empirical", "values": [1], "file": "x"}, None, [f"{W}.file:", "values"]),
    (
        {"dist": "empirical", "file": "no/such.csv"},
        None,
        [f"{W}.file:", "no such file", "'no/such.csv'"],
    ),
    (
        {"dist": "empirical", "file": "{d}/empty.txt"},
        None,
        [f"{W}.file:", "empty.txt'", "one number per line", "empty"],
    ),
    (
        {"dist": "empirical", "file": "{d}/text.txt"},
        None,
        [f"{W}.file:", "text.txt'", "line 3: not a number"],
    ),
    (
        {"dist": "empirical", "file": "{d}/neg.txt"},
        None,
        [f"{W}.file:", ">= 0", "got a negative number", "line 2", "neg.txt'"],
    ),
    ({"dist": "norm"}, None, [f"{W}:", "support >= 0", "scipy.stats.norm", "-inf"]),
    ({"dist": "norm", "scale": 0}, f"{W}.scale: must be a number > 0, got 0", []),
    (
        {"dist": "norm", "foo": 1},
        f"{W}.foo: unknown key for scipy.stats.norm; allowed: loc, scale",
        [],
    ),
    ({"dist": "beta", "a": 2}, f"{W}.b: required for scipy.stats.beta", []),
    (
        {"dist": "beta", "a": -1, "b": 2},
        None,
        [f"{W}:", "scipy.stats.beta(a=-1, b=2)", "allowed: a, b, loc, scale"],
    ),
    ({"dist": "binom", "n": 2.5, "p": 0.5}, None, [f"{W}:", "scipy.stats.binom(n=2.5, p=0.5)"]),
    (
        {"dist": "poisson", "mu": 1, "scale": 2},
        f"{W}.scale: unknown key for scipy.stats.poisson; allowed: mu, loc",
        [],
    ),
    ({"dist": "lognorm", "s": "big"}, f"{W}.s: must be a finite number, got 'big'", []),
]


@pytest.mark.parametrize("value, exact, fragments", ERROR_CASES, ids=lambda v: None)
def test_errors_are_one_line_and_name_the_field(value, exact, fragments, tmp_path):
    """Every refusal is a SpecError on one line: field path, offending value, what is allowed."""
    if isinstance(value, dict) and isinstance(value.get("file"), str):
        value = {**value, "file": value["file"].format(d=_files(tmp_path))}
    with pytest.raises(SpecError) as info:
        parse_distribution(value, PATH)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(PATH)
    if exact is not None:
        assert msg == exact
    for fragment in fragments:
        assert fragment in msg


# ----------------------------------------------------------------- properties

POSITIVE = hs.floats(min_value=1e-3, max_value=1e3)


@settings(max_examples=60, deadline=None)
@given(mean=POSITIVE, cv=hs.floats(min_value=1e-3, max_value=20.0))
def test_lognormal_gamma_parameters_reproduce_mean_and_cv(mean, cv):
    """The derived numpy parameters describe exactly the requested distribution."""
    ln = parse_distribution({"dist": "lognormal", "mean": mean, "cv": cv}, PATH).derived
    ga = parse_distribution({"dist": "gamma", "mean": mean, "cv": cv}, PATH).derived
    for frozen in (
        st.lognorm(s=ln["sigma"], scale=math.exp(ln["mu"])),
        st.gamma(ga["shape"], scale=ga["scale"]),
    ):
        assert frozen.mean() == pytest.approx(mean, rel=1e-6)
        assert frozen.std() / frozen.mean() == pytest.approx(cv, rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(mean=POSITIVE, cv=hs.floats(min_value=0.01, max_value=50.0))
def test_weibull_parameters_reproduce_mean_and_cv(mean, cv):
    """The solved shape reproduces the cv over the whole supported range."""
    w = parse_distribution({"dist": "weibull", "mean": mean, "cv": cv}, PATH).derived
    frozen = st.weibull_min(w["shape"], scale=w["scale"])
    assert frozen.mean() == pytest.approx(mean, rel=1e-6)
    assert frozen.std() / frozen.mean() == pytest.approx(cv, rel=1e-6)


JUNK = hs.one_of(
    hs.none(),
    hs.booleans(),
    hs.integers(-5, 5),
    hs.floats(allow_nan=True, allow_infinity=True),
    hs.text(max_size=3),
    hs.lists(hs.floats(-2, 5), max_size=3),
)
KEYS = [
    "mean",
    "cv",
    "value",
    "low",
    "mode",
    "high",
    "lambda",
    "values",
    "loc",
    "scale",
    "a",
    "b",
    "s",
    "mu",
    "n",
    "p",
]
NAMES = [
    *BUILTINS,
    "norm",
    "beta",
    "poisson",
    "binom",
    "lognorm",
    "pareto",
    "nope",
    "rv_continuous",
    "_lazywhere",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=hs.sampled_from(NAMES), params=hs.dictionaries(hs.sampled_from(KEYS), JUNK, max_size=4))
def test_garbage_gives_spec_error_or_a_working_distribution(name, params):
    """No numpy/scipy exception escapes parse_distribution, whatever the input."""
    try:
        d = parse_distribution({"dist": name, **params}, PATH)
    except SpecError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(PATH)
        return
    x = d.sample(np.random.default_rng(0), 16)
    assert x.dtype == np.float64 and x.shape == (16,) and (x >= 0).all()


# ----------------------------------------------------------------- huge or tiny parameters (issue 12)
# (value, field, fragments): each was accepted and then misread (an overflowed cv², draws of inf) or
# escaped as another exception (ZeroDivisionError here, OverflowError later in distribution_variance).
HUGE_OR_TINY = [
    ({"dist": "gamma", "mean": 4, "cv": 1e-200}, f"{W}.cv", ["got 1e-200", ">= 1e-06 and <= 100"]),
    ({"dist": "gamma", "mean": 4, "cv": 1e200}, f"{W}.cv", ["got 1e+200", "<= 100"]),
    ({"dist": "lognormal", "mean": 4, "cv": 1e200}, f"{W}.cv", ["got 1e+200", "<= 100"]),
    ({"dist": "lognormal", "mean": 1e300, "cv": 1}, f"{W}.mean", ["got 1e+300", "<= 1e+12"]),
    ({"dist": "exponential", "mean": 1e-300}, f"{W}.mean", ["got 1e-300", ">= 1e-09"]),
    ({"dist": "weibull", "mean": 1e308, "cv": 40}, f"{W}.mean", ["got 1e+308", "<= 1e+12"]),
    ({"dist": "deterministic", "value": 1e300}, f"{W}.value", ["got 1e+300", "<= 1e+12"]),
    (1e300, W, ["got 1e+300", "<= 1e+12 or a mapping"]),
    ({"dist": "uniform", "low": 0, "high": 1.7e308}, f"{W}.high", ["got 1.7e+308", "<= 1e+12"]),
    ({"dist": "uniform", "mean": 1e12, "cv": 0.5}, f"{W}.mean",
     ["high = mean·(1 + √3·cv) <= 1e+12", "mean 1000000000000.0"]),
    ({"dist": "triangular", "low": 0, "mode": 1, "high": 1.7e308}, f"{W}.high", ["got 1.7e+308", "<= 1e+12"]),
    ({"dist": "pert", "low": 1, "mode": 2, "high": 3, "lambda": 1e300}, f"{W}.lambda", ["got 1e+300", "<= 1e+06"]),
    ({"dist": "empirical", "values": [1, 1e308]}, f"{W}.values[1]", ["got 1e+308", "<= 1e+12"]),
    ({"dist": "expon", "scale": 1e308}, f"{W}.scale", ["got 1e+308", "<= 1e+12"]),
    ({"dist": "chi2", "df": 1e300}, f"{W}.df", ["got 1e+300", "<= 1e+12"]),
    ({"dist": "chi2", "df": 1e6, "scale": 1e9}, W, ["scipy.stats.chi2", "mean <= 1e+12", "mean 1e+15"]),
    ({"dist": "pareto", "b": 0.01}, W, ["scipy.stats.pareto(b=0.01)", "draws <= 1e+290", "quantile is inf"]),
]


@pytest.mark.parametrize("value, field, fragments", HUGE_OR_TINY, ids=lambda v: None)
def test_huge_or_tiny_parameter_is_refused_with_one_line(value, field, fragments):
    with pytest.raises(SpecError) as info:
        parse_distribution(value, PATH)
    msg = str(info.value)
    assert "\n" not in msg and info.value.path == field
    for fragment in fragments:
        assert fragment in msg, msg


def test_huge_signed_values_are_refused_too():
    """Outside durations (nonnegative=False) the same magnitudes hold, on both sides of 0."""
    for value in (-1e300, {"dist": "uniform", "low": -1e300, "high": 0}, {"dist": "norm", "loc": -1e300}):
        with pytest.raises(SpecError, match=r"got -1e\+300"):
            parse_distribution(value, PATH, nonnegative=False)
    assert parse_distribution(-1e12, PATH, nonnegative=False).mean == -1e12


def test_empirical_file_with_a_huge_number_is_refused(tmp_path):
    (tmp_path / "big.txt").write_text("1\n2\n1e300\n")
    with pytest.raises(SpecError) as info:
        parse_distribution({"dist": "empirical", "file": str(tmp_path / "big.txt")}, PATH)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{PATH}.file: ") and "line 3" in msg and "<= 1e+12" in msg


@pytest.mark.parametrize("name", ["lognormal", "gamma"])
@pytest.mark.parametrize("mean", [1e-9, 1e12])
@pytest.mark.parametrize("cv", [1e-6, 100.0])
def test_parameters_at_the_bounds_describe_the_distribution(name, mean, cv):
    """At every corner of the bounds the numbers handed to numpy are normal floats that give the
    requested mean and cv (and the variance that merge_steps uses is finite)."""
    d = parse_distribution({"dist": name, "mean": mean, "cv": cv}, PATH)
    derived = list(d.derived.values())
    assert all(math.isfinite(x) and (x == 0 or abs(x) >= np.finfo(float).tiny) for x in derived), d.derived
    if name == "gamma":
        k, theta = d.derived["shape"], d.derived["scale"]
        moments = k * theta, 1 / math.sqrt(k)
    else:                                   # expm1: scipy's exp(σ²) − 1 cancels at σ = 1e-6
        mu, sigma = d.derived["mu"], d.derived["sigma"]
        moments = math.exp(mu + sigma**2 / 2), math.sqrt(math.expm1(sigma**2))
    assert moments == pytest.approx((mean, cv), rel=1e-9)
    assert distribution_variance(d, PATH) == pytest.approx((mean * cv) ** 2, rel=1e-12)


@pytest.mark.parametrize("name", ["lognormal", "gamma"])
def test_smallest_cv_is_sampled_as_written(name):
    """cv 1e-6 (the bound): the draws still have that spread, not a constant nor a rounding error."""
    mean, cv = 1e12, 1e-6
    x = parse_distribution({"dist": name, "mean": mean, "cv": cv}, PATH).sample(np.random.default_rng(7), N)
    assert abs(x.mean() - mean) <= Z * mean * cv / math.sqrt(N)
    assert abs(x.std() / x.mean() - cv) <= Z * cv * math.sqrt(0.5 / N) * 1.01   # near-normal: Var(s)/σ² = 1/(2n)


def test_largest_lambda_has_finite_moments():
    d = parse_distribution({"dist": "pert", "low": 1, "mode": 2, "high": 3, "lambda": 1e6}, PATH)
    assert math.isfinite(distribution_variance(d, PATH))
    x = d.sample(np.random.default_rng(3), 1000)
    assert np.isfinite(x).all() and (x >= 1).all() and (x <= 3).all()


# --------------------------------------------------------------------------- poisson's `mean` (DESIGN.md §9)
def test_poisson_takes_mean_for_mu():
    """DESIGN.md §9 writes a split's count `{dist: poisson, mean: 3}`; scipy's parameter is `mu`: the same
    distribution, draw for draw, and the canonical form says `mu`."""
    alias = parse_distribution({"dist": "poisson", "mean": 3}, "count")
    mu = parse_distribution({"dist": "poisson", "mu": 3}, "count")
    assert alias == mu and alias.mean == 3.0 and alias.to_dict() == {"dist": "poisson", "mu": 3}
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    assert np.array_equal(alias.sample(rng_a, 1000), mu.sample(rng_b, 1000))


@pytest.mark.parametrize("value, message", [
    ({"dist": "poisson", "mean": 3, "mu": 3},
     "count.mean: must not be given together with mu (mean is a synonym of mu for scipy.stats.poisson), got mu 3 "
     "and mean 3"),
    ({"dist": "poisson", "mean": 3, "loc": 1},
     "count.mean: use mu with loc (the mean of scipy.stats.poisson is mu + loc), got mean 3 and loc 1"),
    ({"dist": "poisson", "mean": "3"}, "count.mean: must be a finite number, got '3'"),
    ({"dist": "binom", "n": 4, "mean": 2}, "count.mean: unknown key for scipy.stats.binom; allowed: n, p, loc"),
])
def test_poisson_mean_refusals_name_mean(value, message):
    with pytest.raises(SpecError) as e:
        parse_distribution(value, "count")
    assert str(e.value) == message
