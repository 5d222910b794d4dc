"""Random durations (work times, handoffs, delays) written as ``{dist: NAME, ...}``.

Why this shape: a value stream manager thinks in "about 4 days, quite variable", so the
built-ins are parameterised by ``mean`` and ``cv``; a workshop gives three-point estimates
(``triangular``, ``pert``); measured data goes into ``empirical``; anything else is any
``scipy.stats`` distribution by name. All parameter derivation (e.g. solving the Weibull
shape) happens once in :func:`parse_distribution`; :meth:`Distribution.sample` is one
vectorised call into numpy/scipy per block, because the engine calls it per 1024 draws.

Canonical form (:meth:`Distribution.to_dict`): ``uniform`` given by mean/cv becomes
``low``/``high``; ``exponential`` drops ``cv``; ``pert`` always carries ``lambda``;
``empirical`` from a file keeps ``file`` as an absolute path (so a later change of working
directory, e.g. by Hydra, does not break the round trip); a plain number becomes
``{dist: deterministic, value: x}``.

Reproducibility: for every built-in, ``sample(rng, a)`` then ``sample(rng, b)`` equals
``sample(rng, a + b)`` (numpy Generators keep no per-call buffer; ``empirical``'s 32-bit
halves are buffered in the bit generator's state). scipy distributions are reproducible per
seed but not guaranteed to split that way (some sample by batched rejection), so do not rely
on it for them.
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import scipy.stats
from scipy.optimize import brentq
from scipy.special import gammaln

from vssim.errors import SpecError, show
from vssim.model.keys import (
    BUILTINS,
    CV,
    MAX_DRAW,
    MAX_TIME,
    SCIPY_PARAMETER,
    SCIPY_SCALE,
    TIME,
    NewCheckError,
    family,
)
from vssim.model.userfiles import read_numbers

__all__ = ["BUILTINS", "Distribution", "parse_distribution"]

_WEIBULL_K_BRACKET = (0.1, 200.0)

Sampler = Callable[[np.random.Generator, int], np.ndarray]


@dataclass(frozen=True, repr=False)
class Distribution:
    """An immutable, validated distribution; equal when the canonical parameters are equal."""

    name: str
    mean: float = field(compare=False)  # follows from params; nan (scipy) must not break ==
    params: Mapping[str, Any] = field(default_factory=dict)  # canonical, without ``dist``
    # numbers actually handed to numpy (lognormal mu/sigma, weibull shape/scale...): inspection
    derived: Mapping[str, float] = field(default_factory=dict, compare=False)
    _draw: Sampler | None = field(default=None, compare=False)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` float64 draws from ``rng``, one vectorised call (speed: called per block)."""
        return self._draw(rng, size)

    def to_dict(self) -> dict:
        """Canonical mapping that :func:`parse_distribution` accepts back."""
        out: dict[str, Any] = {"dist": self.name}
        for key, value in self.params.items():
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    @property
    def is_deterministic(self) -> bool:
        """True only for ``deterministic`` (lets the engine skip sampling)."""
        return self.name == "deterministic"

    def __repr__(self) -> str:
        parts = []
        for key, value in self.params.items():
            if isinstance(value, tuple):
                parts.append(f"{key}=[{len(value)} values]")
            else:
                parts.append(f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}")
        return f"Distribution({self.name}{', ' if parts else ''}{', '.join(parts)})"


# --------------------------------------------------------------------------- helpers


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _real(value: object, path: str, allowed: str, ok: Callable[[float], bool] = lambda x: True):
    """Return ``value`` as a finite float satisfying ``ok`` or raise SpecError(path, allowed)."""
    if not _is_real(value):
        raise SpecError(path, allowed, value)
    x = float(value)
    if not math.isfinite(x) or not ok(x):
        raise SpecError(path, allowed, value)
    return x


def _check_keys(params: Mapping, path: str, label: str, allowed: Sequence[str]) -> None:
    for key in params:
        if key not in allowed:
            raise SpecError(
                f"{path}.{key}", message=f"unknown key for {label}; allowed: {', '.join(allowed)}"
            )


def _require(params: Mapping, keys: Sequence[str], path: str, label: str) -> None:
    for key in keys:
        if key not in params or params[key] is None:
            raise SpecError(f"{path}.{key}", message=f"required for {label}")


def _param(params: Mapping, name: str, path: str, label: str, nonneg: bool = True) -> float:
    """Parameter `name` of the built-in `label` inside its bound (keys.FAMILIES); signed when not `nonneg`."""
    bound = family(label).param(name).bound
    if not nonneg and bound.low == 0 and not bound.low_open:
        bound = bound.signed()
    return bound.check(params[name], f"{path}.{name}")


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def _names_hint(name: str) -> str:
    close = difflib.get_close_matches(name, list(BUILTINS) + _scipy_names(), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _scipy_dist(name: str):
    if name.startswith("_"):
        return None
    obj = getattr(scipy.stats, name, None)
    return obj if isinstance(obj, (scipy.stats.rv_continuous, scipy.stats.rv_discrete)) else None


def _scipy_names() -> list[str]:
    return [n for n in dir(scipy.stats) if _scipy_dist(n) is not None]


# --------------------------------------------------------------------------- built-ins


def _exponential(p: Mapping, path: str, nonneg: bool) -> Distribution:
    _check_keys(p, path, "exponential", family("exponential").names)
    _require(p, ("mean",), path, "exponential")
    mean = _param(p, "mean", path, "exponential")
    if "cv" in p:
        _param(p, "cv", path, "exponential")
    return Distribution(
        "exponential",
        mean,
        {"mean": mean},
        {"scale": mean},
        lambda rng, n: rng.exponential(mean, n),
    )


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of the underlying normal giving this mean and cv."""
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


def _lognormal(p: Mapping, path: str, nonneg: bool) -> Distribution:
    _check_keys(p, path, "lognormal", family("lognormal").names)
    _require(p, ("mean", "cv"), path, "lognormal")
    mean, cv = _param(p, "mean", path, "lognormal"), _param(p, "cv", path, "lognormal")
    mu, sigma = lognormal_params(mean, cv)
    return Distribution(
        "lognormal",
        mean,
        {"mean": mean, "cv": cv},
        {"mu": mu, "sigma": sigma},
        lambda rng, n: rng.lognormal(mu, sigma, n),
    )


def _gamma(p: Mapping, path: str, nonneg: bool) -> Distribution:
    _check_keys(p, path, "gamma", family("gamma").names)
    _require(p, ("mean", "cv"), path, "gamma")
    mean, cv = _param(p, "mean", path, "gamma"), _param(p, "cv", path, "gamma")
    shape, scale = 1.0 / (cv * cv), mean * cv * cv
    return Distribution(
        "gamma",
        mean,
        {"mean": mean, "cv": cv},
        {"shape": shape, "scale": scale},
        lambda rng, n: rng.gamma(shape, scale, n),
    )


def weibull_shape(cv: float) -> float:
    """Weibull shape k with cv² = Γ(1+2/k)/Γ(1+1/k)² − 1 (log form: no overflow)."""
    target = math.log1p(cv * cv)

    def gap(k: float) -> float:
        return float(gammaln(1 + 2 / k) - 2 * gammaln(1 + 1 / k)) - target

    return brentq(gap, *_WEIBULL_K_BRACKET, xtol=1e-14, rtol=4 * np.finfo(float).eps)


def _weibull(p: Mapping, path: str, nonneg: bool) -> Distribution:
    _check_keys(p, path, "weibull", family("weibull").names)
    _require(p, ("mean", "cv"), path, "weibull")
    mean, cv = _param(p, "mean", path, "weibull"), _param(p, "cv", path, "weibull")
    k = weibull_shape(cv)
    scale = mean / math.exp(gammaln(1 + 1 / k))
    return Distribution(
        "weibull",
        mean,
        {"mean": mean, "cv": cv},
        {"shape": k, "scale": scale},
        lambda rng, n: scale * rng.weibull(k, n),
    )


def _deterministic(p: Mapping, path: str, nonneg: bool) -> Distribution:
    _check_keys(p, path, "deterministic", family("deterministic").names)
    if "value" in p and "mean" in p:
        raise SpecError(
            f"{path}.mean",
            message="must not be given together with value (mean is a synonym of value), "
            f"got value {show(p['value'])} and mean {show(p['mean'])}",
        )
    key = "mean" if "mean" in p else "value"
    _require(p, (key,), path, "deterministic")
    value = _param(p, key, path, "deterministic", nonneg)
    return Distribution(
        "deterministic",
        value,
        {"value": value},
        {"value": value},
        lambda rng, n: np.full(n, value, dtype=np.float64),
    )


def _high(p: Mapping, path: str, low: float, label: str) -> float:
    """``high`` > ``low``; equal bounds point to deterministic (a common three-point slip)."""
    high = _real(p["high"], f"{path}.high", f"a number > low = {low:g}")
    if high == low:
        hint = " (for a constant use dist: deterministic)"
        raise SpecError(f"{path}.high", f"a number > low = {low:g}{hint}", p["high"])
    if high < low:
        raise SpecError(f"{path}.high", f"a number > low = {low:g}", p["high"])
    return _param(p, "high", path, label)


def _uniform(p: Mapping, path: str, nonneg: bool) -> Distribution:
    if "low" in p or "high" in p:
        _check_keys(p, path, "uniform", family("uniform").forms[0])
        _require(p, ("low", "high"), path, "uniform")
        low = _param(p, "low", path, "uniform", nonneg)
        high = _high(p, path, low, "uniform")
    else:
        _check_keys(p, path, "uniform", family("uniform").names)
        _require(p, ("mean", "cv"), path, "uniform (or give low and high)")
        mean = _param(p, "mean", path, "uniform")
        cv = _param(p, "cv", path, "uniform") if nonneg else CV.check(p["cv"], f"{path}.cv")
        half = math.sqrt(3) * mean * cv
        low, high = mean - half, mean + half
        if nonneg:
            low = max(low, 0.0)  # mean - sqrt(3)·mean/sqrt(3) can round to -1e-17
        if high > MAX_TIME:
            raise NewCheckError(f"{path}.mean", message=f"must leave high = mean·(1 + √3·cv) <= {MAX_TIME:g}, "
                                                        f"got mean {show(p['mean'])} and cv {show(p['cv'])}")
    return Distribution(
        "uniform",
        (low + high) / 2,
        {"low": low, "high": high},
        {"low": low, "high": high},
        lambda rng, n: rng.uniform(low, high, n),
    )


def _three_point(p: Mapping, path: str, nonneg: bool, label: str) -> tuple[float, float, float]:
    _require(p, ("low", "mode", "high"), path, label)
    low = _param(p, "low", path, label, nonneg)
    high = _high(p, path, low, label)
    mode = _real(
        p["mode"],
        f"{path}.mode",
        f"a number in [low, high] = [{low:g}, {high:g}]",
        lambda x: low <= x <= high,
    )
    return low, mode, high


def _triangular(p: Mapping, path: str, nonneg: bool) -> Distribution:
    _check_keys(p, path, "triangular", family("triangular").names)
    low, mode, high = _three_point(p, path, nonneg, "triangular")
    return Distribution(
        "triangular",
        (low + mode + high) / 3,
        {"low": low, "mode": mode, "high": high},
        {"low": low, "mode": mode, "high": high},
        lambda rng, n: rng.triangular(low, mode, high, n),
    )


def _pert(p: Mapping, path: str, nonneg: bool) -> Distribution:
    _check_keys(p, path, "pert", family("pert").names)
    low, mode, high = _three_point(p, path, nonneg, "pert")
    lam = _param(p, "lambda", path, "pert") if p.get("lambda") is not None else family("pert").param("lambda").default
    width = high - low
    a, b = 1 + lam * (mode - low) / width, 1 + lam * (high - mode) / width
    return Distribution(
        "pert",
        (low + lam * mode + high) / (lam + 2),
        {"low": low, "mode": mode, "high": high, "lambda": lam},
        {"alpha": a, "beta": b, "low": low, "width": width},
        lambda rng, n: low + width * rng.beta(a, b, n),
    )


def _empirical(p: Mapping, path: str, nonneg: bool) -> Distribution:
    _check_keys(p, path, "empirical", family("empirical").names)
    if "values" in p and "file" in p:
        raise SpecError(
            f"{path}.file",
            message="must not be given together with values (empirical takes values or file)",
        )
    if "values" not in p and "file" not in p:
        raise SpecError(
            f"{path}.values",
            message="required for empirical (a list of numbers; or give file: a path)",
        )
    if "values" in p:
        raw = p["values"]
        vpath = f"{path}.values"
        if isinstance(raw, np.ndarray):
            raw = raw.tolist()
        if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Sequence) or not raw:
            raise SpecError(vpath, "a non-empty list of numbers", raw)
        bound = TIME if nonneg else TIME.signed()
        values = np.array([bound.check(v, f"{vpath}[{i}]") for i, v in enumerate(raw)])
        params: dict[str, Any] = {"values": tuple(float(v) for v in values)}
    else:
        abspath, values, lines = read_numbers(p["file"], f"{path}.file")
        if nonneg and (values < 0).any():
            i = int(np.argmax(values < 0))
            raise SpecError(
                f"{path}.file",
                message=f"must contain numbers >= 0, got a negative number "
                f"at line {lines[i]} of {show(os.fspath(p['file']))}",
            )
        if (np.abs(values) > MAX_TIME).any():
            line = lines[int(np.argmax(np.abs(values) > MAX_TIME))]
            raise NewCheckError(f"{path}.file", message=f"must contain numbers <= {MAX_TIME:g}, got a larger one "
                                                        f"at line {line} of {show(os.fspath(p['file']))}")
        params = {"file": abspath}
    values.setflags(write=False)
    return Distribution(
        "empirical",
        float(values.mean()),
        params,
        {"n": float(values.size)},
        lambda rng, n: rng.choice(values, n),
    )


_BUILTIN_PARSERS: dict[str, Callable[[Mapping, str, bool], Distribution]] = {
    "exponential": _exponential,
    "lognormal": _lognormal,
    "gamma": _gamma,
    "weibull": _weibull,
    "deterministic": _deterministic,
    "uniform": _uniform,
    "triangular": _triangular,
    "pert": _pert,
    "empirical": _empirical,
}


# --------------------------------------------------------------------------- scipy.stats


MEAN_IS_SHAPE = {"poisson": "mu"}
"""scipy.stats distributions whose mean is one shape parameter (`loc` absent): `mean` may be written for
it (DESIGN.md §9 writes `{dist: poisson, mean: 3}`); the canonical form says the scipy name."""


def _mean_alias(p: Mapping, shape: str, path: str, label: str) -> Mapping:
    """`p` with `mean` renamed to the shape parameter it is a synonym of."""
    if shape in p:
        raise SpecError(f"{path}.mean", message=f"must not be given together with {shape} (mean is a synonym of "
                                                f"{shape} for {label}), got {shape} {show(p[shape])} and mean "
                                                f"{show(p['mean'])}")
    if "loc" in p:
        raise SpecError(f"{path}.mean", message=f"use {shape} with loc (the mean of {label} is {shape} + loc), "
                                                f"got mean {show(p['mean'])} and loc {show(p['loc'])}")
    return {shape if k == "mean" else k: v for k, v in p.items()}


def _scipy(name: str, gen, p: Mapping, path: str, nonneg: bool) -> Distribution:
    label = f"scipy.stats.{name}"
    written: dict[str, str] = {}        # a parameter as the file wrote it, for errors
    if name in MEAN_IS_SHAPE and "mean" in p:
        p = _mean_alias(p, MEAN_IS_SHAPE[name], path, label)
        written[MEAN_IS_SHAPE[name]] = "mean"
    discrete = isinstance(gen, scipy.stats.rv_discrete)
    shapes = [s.strip() for s in gen.shapes.split(",")] if gen.shapes else []
    allowed = [*shapes, "loc"] + ([] if discrete else ["scale"])
    _check_keys(p, path, label, allowed)
    _require(p, shapes, path, label)
    params: dict[str, float | int] = {}
    for key in allowed:
        if key not in p:
            continue
        x = (SCIPY_SCALE if key == "scale" else SCIPY_PARAMETER).check(p[key], f"{path}.{written.get(key, key)}")
        # integers stay integers: numpy's binomial & co. refuse a float n
        if isinstance(p[key], numbers.Integral) or (discrete and x.is_integer()):
            x = int(x)
        params[key] = x
    shown = ", ".join(f"{k}={v:g}" for k, v in params.items())
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            frozen = gen(**params)
            low = float(frozen.support()[0])
            mean = float(frozen.mean())
            top = float(frozen.isf(1e-15))   # about the largest of 10**15 draws (nearer 1, isf loses precision)
            if not math.isnan(low):  # a trial draw, so that sample() cannot fail later
                frozen.rvs(size=2, random_state=np.random.default_rng(0))
    except Exception as exc:  # noqa: BLE001 -- scipy raises many types; report them in one line
        raise SpecError(
            path, message=f"invalid parameters for {label}({shown}): {_one_line(exc)}"
        ) from None
    if math.isnan(low):
        raise SpecError(
            path,
            message=f"invalid parameters for {label}({shown}): outside the "
            f"domain scipy allows (allowed: {', '.join(allowed)} with valid values)",
        )
    if nonneg and not low >= 0:
        raise SpecError(
            path,
            message=f"must be a distribution with support >= 0 (a work time or "
            f"delay), got {label}({shown}) whose support starts at {low:g}",
        )
    if not math.isfinite(mean):
        mean = math.nan
    if mean > MAX_TIME or not top <= MAX_DRAW:
        raise NewCheckError(path, message=f"must be a distribution with mean <= {MAX_TIME:g} and draws <= "
                                          f"{MAX_DRAW:g}, got {label}({shown}) of mean {mean:g} whose "
                                          f"1 - 1e-15 quantile is {top:g}")

    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        return np.asarray(frozen.rvs(size=n, random_state=rng), dtype=np.float64)

    return Distribution(name, mean, params, dict(params), draw)


# --------------------------------------------------------------------------- entry point


def parse_distribution(value: object, path: str, *, nonnegative: bool = True) -> Distribution:
    """Validate a ``{dist: NAME, ...}`` mapping or a plain number into a :class:`Distribution`.

    Every problem is a one-line :class:`SpecError` naming the sub-field (``path.cv``...), the
    value and what is allowed; numpy/scipy exceptions never escape.
    """
    if _is_real(value):  # shorthand: errors name ``path`` itself, where the number was written
        bound = TIME if nonnegative else TIME.signed()
        x = bound.check(value, path, alternative="a mapping {dist: NAME, ...}")
        return _finalise(_deterministic({"value": x}, path, nonnegative))
    if not isinstance(value, Mapping):
        raise SpecError(path, "a number or a mapping {dist: NAME, ...}", value)
    names = f"one of {', '.join(BUILTINS)} or a scipy.stats distribution name"
    if "dist" not in value or value["dist"] is None:
        raise SpecError(f"{path}.dist", message=f"required; {names}")
    name = value["dist"]
    params = {k: v for k, v in value.items() if k != "dist"}
    if isinstance(name, str) and name in _BUILTIN_PARSERS:
        return _finalise(_BUILTIN_PARSERS[name](params, path, nonnegative))
    gen = _scipy_dist(name) if isinstance(name, str) else None
    if gen is None:
        hint = _names_hint(name) if isinstance(name, str) else ""
        raise SpecError(f"{path}.dist", message=f"must be {names}, got {show(name)}{hint}")
    return _finalise(_scipy(name, gen, params, path, nonnegative))


def _finalise(d: Distribution) -> Distribution:
    """Freeze the parameter mappings so a Distribution cannot be changed after validation."""
    object.__setattr__(d, "params", MappingProxyType(dict(d.params)))
    object.__setattr__(d, "derived", MappingProxyType(dict(d.derived)))
    return d


# --------------------------------------------------------------------------- arithmetic on distributions
def _is_finite_number(x: Any) -> bool:
    return _is_real(x) and math.isfinite(x)


MEAN_PARAMETERISED = ("exponential", "lognormal", "gamma", "weibull")
"""Families written with `mean` (and `cv`): scaling X scales the mean."""


def scale_distribution(d: Any, factor: float, path: str, where: str | None = None) -> Any:
    """A distribution (mapping or plain number) of the random variable X × factor.

    `path` names the scenario field in errors about what cannot be scaled; `where` (default
    `path`) the stream field, for a distribution that is invalid in the stream itself.
    """
    if _is_finite_number(d):
        return d * factor
    where = where or path
    name = d.get("dist") if isinstance(d, Mapping) else None
    if name == "empirical" and "file" in d:
        raise SpecError(path, message=f"{where}: an empirical distribution read from a file is not scalable, "
                                      f"got file {show(d['file'])} (give values instead)")
    if name not in MEAN_PARAMETERISED + ("deterministic", "uniform", "triangular", "pert", "empirical") \
            and isinstance(name, str):
        if isinstance(getattr(scipy.stats, name, None), scipy.stats.rv_discrete):
            raise SpecError(path, message=f"{where}: a discrete scipy.stats distribution is not scalable, "
                                          f"got {name}")
    parse_distribution(dict(d) if isinstance(d, Mapping) else d, where)     # refuse what is invalid
    out = dict(d)
    if name in MEAN_PARAMETERISED:
        out["mean"] = d["mean"] * factor
    elif name == "deterministic":
        key = "mean" if "mean" in d else "value"
        out[key] = d[key] * factor
    elif name == "uniform" and "mean" in d and "low" not in d:
        out["mean"] = d["mean"] * factor
    elif name in ("uniform", "triangular", "pert"):
        for key in ("low", "mode", "high"):
            if key in d:
                out[key] = d[key] * factor
    elif name == "empirical":
        out["values"] = [v * factor for v in d["values"]]
    else:
        out["scale"] = d.get("scale", 1.0) * factor
        if "loc" in d:
            out["loc"] = d["loc"] * factor
    return out


def distribution_variance(d: Distribution, path: str) -> float:
    """Variance of a parsed distribution: exact where known, sample moments only for a file."""
    name, p = d.name, d.params
    if name == "exponential":
        return d.mean ** 2
    if name in ("lognormal", "gamma", "weibull"):
        return (d.mean * p["cv"]) ** 2
    if name == "deterministic":
        return 0.0
    if name == "uniform":
        return (p["high"] - p["low"]) ** 2 / 12
    if name == "triangular":
        a, c, b = p["low"], p["mode"], p["high"]
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18
    if name == "pert":
        a, b, w = d.derived["alpha"], d.derived["beta"], d.derived["width"]
        return w * w * a * b / ((a + b) ** 2 * (a + b + 1))
    if name == "empirical":
        if "values" in p:
            return float(np.var(np.asarray(p["values"], dtype=float)))
        draws = d.sample(np.random.default_rng(0), 1 << 18)   # last resort: the file's values are inside
        return float(np.var(draws))
    try:
        var = float(getattr(scipy.stats, name)(**dict(p)).var())
    except Exception:  # noqa: BLE001
        var = math.nan
    if not math.isfinite(var) or not math.isfinite(d.mean):
        raise SpecError(path, message=f"needs a finite mean and variance to be merged, got {d!r}")
    return var
