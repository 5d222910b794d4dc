"""Time-varying arrival rates: a weekly and daily profile with a linear trend (docs/model.md, "Arrivals").

The rate of a profiled Poisson process at time t (in the stream's time unit) is

    λ(t) = R · w[day(t)] · d[hour(t)] · max(0, 1 + g·t)

with `w` (7 numbers, Monday first) and `d` (24 numbers, hour 0 first) the shapes the stream gives,
each divided by its own mean, so that the mean of w[day]·d[hour] over a week is 1 and `R` stays
the mean rate (before the trend). The trend `g` is the change of the rate per time unit relative
to the rate at t = 0 (linear, not compounding); a negative `g` brings the rate to 0 at t = -1/g,
where it stays (no arrivals after). Why a clamp and not a refusal: the horizon is not known when
the stream is read, and a falling demand over a run shorter than -1/g is a fair model. Why linear
and not exp(g·t): a trend fitted as a straight line to counts per period is what a team measures,
and "the rate grows by g of today's per unit" reads the same at every t.

Why inversion (`Warp`) and not thinning: with Λ(t) = ∫₀ᵗ λ the cumulative rate, the arrival
times of the profiled process are Λ⁻¹ of a unit-rate Poisson process's; here the flat process
of rate R is mapped through H⁻¹, H = Λ / R (the "operational time", in time units). The map is
exact (λ is constant per hour bin, up to the trend's linear factor: H is piecewise quadratic,
inverted in closed form), uses no rejected draws, and keeps common random numbers between a
flat and a profiled stream: the k-th arrival of both comes from the same k gaps.

Time t ↦ hour of the week: s = origin_hour_of_week + t · hours_per_unit hours after Monday 00:00
(`HOURS_PER_UNIT` by `time_unit`). `origin_hour_of_week` is the hour of the week of time 0 (0 =
Monday 00:00); `origin_of(spec)` is the one place where a stream's `epoch` (start date and time
zone) will set it; until then time 0 is a Monday 00:00.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

HOURS_PER_UNIT = {"minute": 1.0 / 60.0, "hour": 1.0, "day": 24.0, "week": 168.0}
"""Hours per time unit, for the time units a profile can place on the week."""
WEEK = 168


@dataclass(frozen=True)
class Profile:
    """A rate profile: `weekly` (7, Monday first) and `daily` (24, hour 0 first) shapes normalised
    to mean 1 (`Profile.of` normalises), and `trend` (relative change of the rate per time unit)."""

    weekly: tuple[float, ...] = (1.0,) * 7
    daily: tuple[float, ...] = (1.0,) * 24
    trend: float = 0.0

    @classmethod
    def of(cls, weekly=None, daily=None, trend: float = 0.0) -> Profile:
        """The profile of these shapes (None: flat), each divided by its mean."""
        def norm(shape, n):
            if shape is None:
                return (1.0,) * n
            x = np.asarray(shape, dtype=np.float64)
            return tuple((x / x.mean()).tolist())
        return cls(norm(weekly, 7), norm(daily, 24), float(trend))

    @property
    def flat(self) -> bool:
        """True when the rate is R at every t: then the warp is the identity and a stream draws as without it."""
        return self.trend == 0.0 and all(x == 1.0 for x in (*self.weekly, *self.daily))

    def hour_shape(self) -> np.ndarray:
        """c[h], h = 0..167 the hour of the week (0: Monday 00:00-01:00): w[h // 24] · d[h % 24], mean 1."""
        return np.outer(self.weekly, self.daily).ravel()

    def to_dict(self) -> dict:
        return {"weekly": list(self.weekly), "daily": list(self.daily), "trend": self.trend}


def _hours(t, k: float):
    """t time units in hours, rounded once: t·k for units of an hour or more, t / (units per hour) below
    (1/60 is not a float: t·(1/60) would put a minute's hour boundaries a rounding off)."""
    return t * k if k >= 1.0 else t / round(1.0 / k)


def _units(hours, k: float):
    """The inverse of `_hours`: hours in time units, rounded once."""
    return hours / k if k >= 1.0 else hours * round(1.0 / k)


def origin_of(spec) -> float:
    """The hour of the week of the stream's time 0 (0 = Monday 00:00): the epoch's local wall-clock
    hour of the week at its start, or 0 without an epoch. The profile then runs on the clock of that
    offset: a daylight-saving change later in the run shifts it by an hour against local time
    (docs/model.md, "Time-varying arrivals")."""
    epoch = getattr(spec, "epoch", None)
    if epoch is None:
        return 0.0
    local = epoch.start_utc.tz_convert(epoch.tz)
    return local.dayofweek * 24.0 + local.hour + local.minute / 60.0 + local.second / 3600.0


def hour_of_week(t, hours_per_unit: float, origin_hour_of_week: float = 0.0):
    """The hour of the week, in [0, 168), of time t (a number or an array)."""
    return np.mod(origin_hour_of_week + _hours(np.asarray(t, dtype=np.float64), hours_per_unit), WEEK)


def relative_rate(t, profile: Profile, hours_per_unit: float, origin_hour_of_week: float = 0.0):
    """λ(t) / R: the shape of the hour of the week of t times max(0, 1 + g·t)."""
    t = np.asarray(t, dtype=np.float64)
    c = profile.hour_shape()[np.floor(hour_of_week(t, hours_per_unit, origin_hour_of_week)).astype(np.int64) % WEEK]
    return c * np.maximum(0.0, 1.0 + profile.trend * t)


def cumulative(t: float, profile: Profile, hours_per_unit: float, origin_hour_of_week: float = 0.0) -> float:
    """H(t) = Λ(t) / R = ∫₀ᵗ λ(τ)/R dτ, in time units (the flat process's clock at time t); exact per bin."""
    if t <= 0.0:
        return 0.0
    w = Warp(profile, hours_per_unit, origin_hour_of_week)
    w.step()                                      # past the first (maybe partial) bin: whole weeks from here
    if w._a < t:
        end = t if w.zero is None else min(t, w.zero)
        w.jump(math.floor((end - w._a) / w.period) - 1)
        while True:
            a, c = w._a, w.shape[w._bin % WEEK]
            b = _units(w._bin + 1 - w.origin, w.k)
            if a >= t or (w.zero is not None and a >= w.zero):
                return w._h
            if b >= t:
                return w._h + w.increment(a, t, c)
            w.step()
    first = Warp(profile, hours_per_unit, origin_hour_of_week)
    return first.increment(0.0, t, first.shape[first._bin % WEEK])


def inverse(u, profile: Profile, hours_per_unit: float, origin_hour_of_week: float = 0.0) -> np.ndarray:
    """H⁻¹(u) for each u (any order): the time at which the flat clock reads u (inf: never, when a
    falling trend stops the arrivals before)."""
    u = np.asarray(u, dtype=np.float64)
    order = np.argsort(u, kind="stable")
    w = Warp(profile, hours_per_unit, origin_hour_of_week)
    out = np.empty(u.shape)
    flat_out = out.reshape(-1)
    flat_u = u.reshape(-1)
    for i in order.reshape(-1):
        flat_out[i] = w(float(flat_u[i]))
    return out


class Warp:
    """H⁻¹ for nondecreasing arguments, one call each (the engine's arrivals): a cursor on the hour bins
    that only moves forward. A gap of many weeks between two calls is crossed in one step (`jump`: H over
    m whole weeks in closed form), so a call costs O(1) weeks of bins however long the horizon, and
    no run hangs in a quiet profile over 10^12 time units."""

    __slots__ = ("shape", "g", "k", "origin", "zero", "_bin", "_a", "_h", "length", "period", "_sum", "_moment")

    def __init__(self, profile: Profile, hours_per_unit: float, origin_hour_of_week: float = 0.0):
        self.shape = profile.hour_shape().tolist()
        self.g = profile.trend
        self.k = float(hours_per_unit)
        self.origin = float(origin_hour_of_week) % WEEK
        self.zero = -1.0 / self.g if self.g < 0 else None      # the rate is 0 from here on
        self._bin = math.floor(self.origin)                      # the bin of the cursor (hours from Monday 0:00)
        self._a = 0.0                                            # its start (time units; the first bin: 0)
        self._h = 0.0                                            # H at its start
        self.length = _units(1.0, self.k)                        # an hour bin, in time units
        self.period = WEEK * self.length                         # a week
        c = np.asarray(self.shape)
        self._sum = float(c.sum())
        # by the bin r a week starts at: Σ_j j · c[(r + j) % 168] = Σ_i c_i ((i - r) mod 168), the week's
        # first moment of the shape: Σ_i i c_i - r Σ c + 168 Σ_{i<r} c_i
        r = np.arange(WEEK)
        before = np.concatenate([[0.0], np.cumsum(c)[:-1]])
        self._moment = (float((r * c).sum()) - r * self._sum + WEEK * before).tolist()

    def step(self) -> None:
        """Move the cursor past its bin."""
        a, c = self._a, self.shape[self._bin % WEEK]
        b = _units(self._bin + 1 - self.origin, self.k)
        self._h += self.increment(a, b, c) if c > 0.0 else 0.0
        self._a = b
        self._bin += 1

    def _weeks(self, m: int) -> float:
        """H over the next m whole weeks from the cursor (at the start of a whole bin, before any zero of
        the rate): each week's ∫ c (1 + g τ) is α + β·a at its start a, a sum in closed form."""
        g, length = self.g, self.length
        alpha = length * self._sum * (1.0 + 0.5 * g * length) + g * length * length * self._moment[self._bin % WEEK]
        beta = g * length * self._sum
        return m * alpha + beta * (m * self._a + self.period * m * (m - 1) / 2.0)

    def jump(self, m: int) -> None:
        """Cross m whole weeks at once (the cursor at the start of a whole bin); fewer than 2: nothing."""
        if self.zero is not None:
            m = min(m, math.floor((self.zero - self._a) / self.period) - 1)
        if m < 2:
            return
        self._h += self._weeks(m)
        self._a += m * self.period
        self._bin += WEEK * m

    def _jump_toward(self, u: float) -> None:
        """Jump the whole weeks that stay below u, less one (the bins finish the way, with their rounding)."""
        gap = u - self._h
        week = self._weeks(1)
        if not week > 0.0 or gap < 3.0 * week:
            return
        if self.g == 0.0:
            self.jump(math.floor(gap / week) - 1)
            return
        qa = 0.5 * self.g * self.length * self._sum * self.period            # S(m) = qa m² + qb m
        qb = week - qa
        disc = qb * qb + 4.0 * qa * gap
        if disc < 0.0:                        # H never reaches u: jump to the zero of the rate
            self.jump(math.floor((self.zero - self._a) / self.period) - 1)
            return
        self.jump(math.floor(2.0 * gap / (qb + math.sqrt(disc))) - 1)

    def bins(self):
        """(start, end, shape) of every hour bin from time 0 on, in time units."""
        j = math.floor(self.origin)
        a = 0.0
        while True:
            b = _units(j + 1 - self.origin, self.k)
            yield a, b, self.shape[j % WEEK]
            j += 1
            a = b

    def increment(self, a: float, b: float, c: float) -> float:
        """∫ₐᵇ c · max(0, 1 + g τ) dτ for a bin of shape c."""
        if self.zero is not None:
            b = min(b, self.zero)
            if b <= a:
                return 0.0
        length = b - a
        return c * length * (1.0 + self.g * a + 0.5 * self.g * length)

    def __call__(self, u: float) -> float:
        """The time t with H(t) = u (u at least the previous call's); inf when H never reaches u."""
        shape, g = self.shape, self.g
        first, jumped = math.floor(self.origin), False
        while True:
            if not jumped and self._bin > first:          # past the first, maybe partial, bin: whole weeks
                self._jump_toward(u)
                jumped = True
            a = self._a
            if self.zero is not None and a >= self.zero:
                return math.inf
            c = shape[self._bin % WEEK]
            b = _units(self._bin + 1 - self.origin, self.k)
            inc = self.increment(a, b, c) if c > 0.0 else 0.0
            if inc > 0.0 and self._h + inc >= u:
                r = (u - self._h) / c
                if r <= 0.0:
                    return a
                if g == 0.0:
                    return min(a + r, b)
                m = 1.0 + g * a                                  # the trend's factor at the bin's start (> 0)
                y = 2.0 * r / (m + math.sqrt(max(0.0, m * m + 2.0 * g * r)))
                return min(a + y, b)
            self._h += inc
            self._a = b
            self._bin += 1
