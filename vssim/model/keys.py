"""Every key of a stream file in one table: its path, type, bounds, default and meaning.

Why one table: the parsers (spec.py, distributions.py) take their allowed keys and their bounds
from it, and the JSON Schema of a stream file (schema/stream.schema.json) and the tables of
docs/model.md are rendered from it (`make schema`), so the three cannot disagree. The parsers
still make the checks that a table cannot say (shares summing to 1, a pool that exists, high >
low); the schema is what an editor checks as a stream is typed, the parser is the authority.

Why bounds: a number that float64 arithmetic or the engines' memory cannot carry would be
accepted and then misread (a cv whose square overflows, a gamma shape 1/cv² that divides by zero,
a pool of 10**12 people). Every number is bounded so that what is accepted is simulated as
written; each bound's reason is in docs/model.md ("Bounds").
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from vssim.errors import SpecError

SCHEMA_VERSION = 2
"""The version of the stream file format this vssim writes and reads (`schema_version`)."""
CHANGES = {2: "version 2 bounded every number, see docs/model.md"}
"""What each schema version changed, told to a file of an older version that a new check refuses."""

MAX_TIME = 1e12
"""Largest time or duration (time units): the float64 clock still resolves 1e-4 there."""
MIN_SCALE = 1e-9
"""Smallest positive scale (a mean, an interval, a cadence, a size): its inverse and MIN_SCALE·cv² stay normal."""
MIN_RATE, MAX_RATE = 1e-12, 1e9
"""Rates are reciprocal times (1 / MAX_TIME, 1 / MIN_SCALE, written out: 1 / 1e-9 is not 1e9 in
float64, and a bound that says "<= 1e+09" must take 1e9): gaps are exponentials of mean 1/rate."""
MAX_PEOPLE = 10**6
"""People per pool and in all: the engines keep a record per person (about 60 bytes)."""
MAX_ITEMS = 10**9
"""Item counts (backlog, WIP limits, CONWIP, batches): far beyond what a run can move, inside every integer type."""
MAX_WEIGHT = 1e12
"""Largest business value: sums over MAX_ITEMS items stay exact to float64 precision in ratios."""
CV_RANGE = (1e-6, 100.0)
"""cv of lognormal and gamma: 1/cv² (the gamma shape) and cv² stay far inside float64."""
WEIBULL_CV_RANGE = (0.01, 50.0)
"""cv over which the Weibull shape is solved (k from about 0.147 to 128)."""
MAX_LAMBDA = 1e6
"""Largest PERT lambda: above it the PERT is its mode to within 1e-3 of its range."""
MAX_DRAW = 1e290
"""Largest draw a scipy.stats distribution may reach: sums of 10**18 draws stay below float64's 1.8e308."""
MAX_TEAMS = 1000
"""Teams in a stream, counted after every `{stream: NAME}` reference is expanded (each use counts): a file
that names another twice, which names a third twice, ... must not expand to 2**30 boards."""


class NewCheckError(SpecError):
    """A value refused by a check that schema version `since` added: an older file is told what changed."""

    def __init__(self, *args: Any, since: int = SCHEMA_VERSION, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.since = since


def _g(x: float) -> str:
    return str(int(x)) if isinstance(x, int) or (x.is_integer() and abs(x) < 1e6) else f"{x:g}"


# --------------------------------------------------------------------------- bounds
@dataclass(frozen=True)
class Bound:
    """The numbers a key allows: [low, high] (either end open or absent), integers only or not.

    `was`: the looser check of schema version 1, when version 2 narrowed it (its failures keep
    their old message; a value between the two gets a NewCheckError). `words`: how an error
    message says the allowed set, when the generated words would be worse.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    was: Bound | None = None
    words: str | None = None

    def holds(self, x: float) -> bool:
        if self.low is not None and not (x > self.low if self.low_open else x >= self.low):
            return False
        return self.high is None or (x < self.high if self.high_open else x <= self.high)

    def allowed(self, alternative: str | None = None) -> str:
        """The allowed set in an error message: `a positive integer or null`, `a number >= 0 and <= 1`."""
        if self.words is not None:
            text = self.words
        elif self.integer:
            text = {0: "a non-negative integer", 1: "a positive integer"}.get(self.low, f"an integer >= {self.low}")
            if self.high is not None:
                text += f" <= {_g(self.high)}"
        else:
            parts = []
            if self.low is not None:
                parts.append(f"{'>' if self.low_open else '>='} {_g(self.low)}")
            if self.high is not None:
                parts.append(f"{'<' if self.high_open else '<='} {_g(self.high)}")
            text = "a number" + (" " + " and ".join(parts) if parts else "")
        return text + (f" or {alternative}" if alternative else "")

    def check(self, value: Any, path: str, *, nullable: bool = False, alternative: str | None = None) -> Any:
        """`value` as a float (an int for integer bounds) inside the bound, or a one-line SpecError;
        `alternative`: what else the key allows, for the message (null when `nullable`)."""
        if value is None and nullable:
            return None
        alternative = "null" if nullable else alternative
        number = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
        x = float(value) if number else math.nan
        whole = number and math.isfinite(x) and (not self.integer or x.is_integer())
        old = self.was or self
        if not whole or not old.holds(x):
            raise SpecError(path, old.allowed(alternative), value)
        if not self.holds(x):
            raise NewCheckError(path, self.allowed(alternative), value)
        return int(value) if self.integer else x

    def signed(self) -> Bound:
        """The same magnitude either side of 0 (durations of a distribution that may be negative)."""
        return Bound(-self.high, self.high, integer=self.integer, was=Bound(words="a finite number"))

    def text(self) -> str:
        """The bound as docs/model.md shows it: `[1e-09, 1e+12]`, `(0, 1]`."""
        if self.low is None or self.high is None:
            return self.allowed()
        if self.low == self.high:
            return _g(self.low)
        return f"{'(' if self.low_open else '['}{_g(self.low)}, {_g(self.high)}{')' if self.high_open else ']'}"

    def schema(self) -> dict:
        out: dict[str, Any] = {"type": "integer" if self.integer else "number"}
        if self.low is not None:
            out["exclusiveMinimum" if self.low_open else "minimum"] = self.low
        if self.high is not None:
            out["exclusiveMaximum" if self.high_open else "maximum"] = self.high
        return out


POSITIVE = Bound(0, low_open=True)
TIME = Bound(0, MAX_TIME, was=Bound(0))
"""A time or a duration that may be 0 (a trace time, a constant, a low end)."""
SCALE = Bound(MIN_SCALE, MAX_TIME, was=POSITIVE)
"""A positive scale: a mean, an interval, a cadence, a size."""
RATE = Bound(MIN_RATE, MAX_RATE, was=POSITIVE)
SHARE = Bound(0, 1, low_open=True)
WEIGHT = Bound(0, MAX_WEIGHT, was=Bound(0))
PROBABILITY = Bound(0, 1)
REWORK = Bound(0, 1, high_open=True, words="a probability in [0, 1) (with 1 no item would ever finish)")
PEOPLE = Bound(1, MAX_PEOPLE, integer=True, was=Bound(1, integer=True))
PEOPLE0 = Bound(0, MAX_PEOPLE, integer=True)
COUNT = Bound(1, MAX_ITEMS, integer=True, was=Bound(1, integer=True))
COUNT0 = Bound(0, MAX_ITEMS, integer=True, was=Bound(0, integer=True))
SPEED = Bound(1e-3, 1e3)
"""A person's speed on a step: from a thousandth to a thousand times their own."""
SWARM = Bound(1, MAX_PEOPLE, integer=True)
"""The most people on one item: at most a pool's people (a key of version 2, so without version 1's looser check)."""
OVERHEAD = Bound(0, 1e3)
"""A swarm's coordination overhead per extra person: 1 + c(n - 1) stays far inside float64 for every n."""
VERSION = Bound(1, SCHEMA_VERSION, integer=True)
HOURS = Bound(0, 24)
"""An hour of a working calendar's day (local wall clock; 24 is the day's end)."""
CV = Bound(*CV_RANGE, was=POSITIVE)
WEIBULL_CV = Bound(*WEIBULL_CV_RANGE, words="a number in [{:g}, {:g}] for weibull".format(*WEIBULL_CV_RANGE))
EXPONENTIAL_CV = Bound(1, 1, words="1 for exponential (use gamma or lognormal for another cv)")
UNIFORM_CV = Bound(0, 1 / math.sqrt(3), low_open=True,
                   words=f"a number in (0, {1 / math.sqrt(3):.4f}] for uniform (above that low would be < 0)")
LAMBDA = Bound(0, MAX_LAMBDA, low_open=True, was=POSITIVE)


# --------------------------------------------------------------------------- keys
REQUIRED = object()
"""The default of a key that must be given."""

@dataclass(frozen=True)
class Key:
    """One key: `path` is dotted, `*` standing for a name the user chooses (`steps.*.batch`), `[]` for a
    list's entries; `type` is words joined by ` or ` (integer, number, string, names: a name or a list of
    names, mapping, distribution, list, null); `bound` bounds its numbers, `choices` its strings; `like`: the
    path of a key whose value this one takes as it is (a team's `pools` are a stream's `pools`)."""

    path: str
    type: str
    doc: str
    default: Any = REQUIRED
    bound: Bound | None = None
    choices: tuple[str, ...] = ()
    like: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self.type.split(" or "))


CLASSES_OF_SERVICE = ("expedite", "fixed_date", "standard", "intangible")
"""Queue priority, highest first (non-preemptive)."""
DISPATCH_RULES = ("downstream_first", "fifo", "upstream_first")
PICK_RULES = ("order", "fastest")
"""Who starts an item that becomes workable at a step: the first pool of its list with a free person,
or the free person who works the step fastest."""
RELEASE_POLICIES = ("push", "conwip")
ARRIVAL_FORMS: dict[str, tuple[tuple[str, ...], ...]] = {
    "poisson": (("rate",),),
    "renewal": (("interarrival",),),
    "deterministic": (("rate",), ("interval",)),
    "trace": (("times",), ("file",)),
    "backlog": (("count",),),
    "saturated": ((),),
}
"""Each arrival process and the keys it takes: one of its forms (sets of keys), exactly."""
ARRIVAL_PROCESSES = tuple(ARRIVAL_FORMS)
ARRIVAL_OPTIONAL: dict[str, tuple[str, ...]] = {"poisson": ("profile", "limit"), "renewal": ("limit",),
                                                "deterministic": ("limit",)}
"""The keys an arrival process may take besides its form: a rate profile (poisson), the first N arrivals only."""
PROFILE_SHAPE = Bound(0, 1e6)
"""A weekly or daily shape value: relative (divided by the shape's mean), so only ratios up to 1e6 matter."""
TREND = Bound(-1, 1)
"""A relative change of the rate per time unit: at -1 the rate is 0 after one unit, at 1 it doubles in one."""

_KEYS = (
    Key("schema_version", "integer", "the version of this format the file is written for (absent: 1)", 1, VERSION),
    Key("name", "string", "the stream's name: the runs' folder `outputs/NAME/`, the report's title; 1 to 64 of "
        "`A-Z a-z 0-9 _ - .`, starting with a letter, a digit or `_`, no `..` (a `/` or `..` would put the run "
        "elsewhere); absent: the file's name (`load_stream`, the command line's `stream=NAME`), else `stream`",
        "stream"),
    Key("time_unit", "string", "non-empty; every time of the file is in this unit, a label only, except with an "
        "`epoch` or a pool `calendar`: then one of `minute`, `hour`, `day`, `week` (an exact duration)", "day"),
    Key("epoch", "mapping or null", "when time 0 is: simulated times become dates (the event log's `date`); needs "
        "`time_unit` minute, hour, day or week; null: time 0 is Monday 00:00 UTC wherever a weekday is needed",
        None),
    Key("epoch.start", "string", "the local date and time of time 0, ISO 8601 without offset "
        "(`2024-01-01T09:00:00`), read in `tz`"),
    Key("epoch.tz", "string", "an IANA time zone name (`Europe/Amsterdam`) or `UTC`: calendars' hours and days "
        "are its wall clock"),
    Key("description", "string", "free text, shown in the report; a string or null, never a list or a mapping", ""),
    Key("level", "string", "the level of the items that arrive (a name as above): `epic`, `feature`; the children "
        "of a split take its `into` (docs/model.md, \"Teams, splits and levels\")", "item"),
    Key("arrivals", "mapping", "how demand reaches the backlog"),
    Key("arrivals.process", "string", "the arrival process (the keys each one takes: above)",
        choices=ARRIVAL_PROCESSES),
    Key("arrivals.rate", "number", "items per time unit (poisson, deterministic)", None, RATE),
    Key("arrivals.interval", "number", "time between arrivals (deterministic)", None, SCALE),
    Key("arrivals.interarrival", "distribution", "time between arrivals, a distribution with mean > 0 (renewal)",
        None),
    Key("arrivals.profile", "mapping or null", "poisson only: the rate follows a weekly and daily profile and a "
        "trend, λ(t) = rate × weekly[day] × daily[hour] × max(0, 1 + trend·t) with each shape divided by its mean "
        "(`rate` stays the mean rate before the trend); `time_unit` must be minute, hour, day or week; the hours are "
        "those of the epoch's local time at its start, or of a Monday 00:00 without one (docs/model.md, "
        "\"Time-varying arrivals\")", None),
    Key("arrivals.profile.weekly", "list", "7 numbers, Monday to Sunday: the rate's shape over the week (not all 0)",
        "all equal"),
    Key("arrivals.profile.weekly[]", "number", "a day's relative rate", bound=PROFILE_SHAPE),
    Key("arrivals.profile.daily", "list", "24 numbers, hours 0 to 23: the rate's shape over the day (not all 0)",
        "all equal"),
    Key("arrivals.profile.daily[]", "number", "an hour's relative rate", bound=PROFILE_SHAPE),
    Key("arrivals.profile.trend", "number", "the change of the rate per time unit, relative to the rate at time 0 "
        "(linear; a negative trend stops the arrivals at time -1/trend)", 0.0, TREND),
    Key("arrivals.limit", "integer or null", "poisson, renewal, deterministic: only the first `limit` items arrive; "
        "the stream is then finite (`sim.horizon` null runs until all are done)", None, COUNT),
    Key("arrivals.count", "integer", "items in the backlog at time 0 (backlog)", None, COUNT),
    Key("arrivals.times", "list", "arrival times, sorted: numbers or {time, type, size} (trace)", None),
    Key("arrivals.times[]", "number or mapping", "an arrival time, or an arrival", None, TIME),
    Key("arrivals.times[].time", "number", "its time; times never decrease", bound=TIME),
    Key("arrivals.times[].type", "string", "its item type (absent: drawn from the shares)", None),
    Key("arrivals.times[].size", "number", "its size (absent: drawn from the type)", None, SCALE),
    Key("arrivals.file", "string", "a CSV with a `time` column, optional `type`, `size` (same bounds) "
        "(trace); a regular UTF-8 file of at most 64 MiB; an error names the line and column, never quotes the file",
        None),
    Key("item_types", "mapping", "non-empty; the flow distribution: item types by name",
        "one type `item` (share 1, size 1, standard)"),
    Key("item_types.*", "mapping", "an item type"),
    Key("item_types.*.share", "number", "its share of arrivals; the shares sum to 1 (±1e-9)", bound=SHARE),
    Key("item_types.*.size", "number or distribution", "multiplies every work draw; a distribution with mean > 0 is "
        "drawn per item", 1.0, SCALE),
    Key("item_types.*.class_of_service", "string", "queue priority, highest first", "standard",
        choices=CLASSES_OF_SERVICE),
    Key("item_types.*.business_value", "number", "weights flow predictability", 1.0, WEIGHT),
    Key("pools", "mapping", "people by skill set: pools by name; non-empty, except in a stream whose every step "
        "splits (its teams have the people)", "required unless every step splits"),
    Key("pools.*", "integer or mapping", "a pool: its number of people, or the mapping below", bound=PEOPLE),
    Key("pools.*.size", "integer", f"its number of people (at most {MAX_PEOPLE} in all pools together)",
        bound=PEOPLE),
    Key("pools.*.schedule", "list or null", "capacity over time: from each `at` on, the pool has `size` people "
        "(hiring, leaving, holidays; a person who leaves finishes the item in hand); times increase", None),
    Key("pools.*.schedule[]", "mapping", "a change of the pool's size"),
    Key("pools.*.schedule[].at", "number", "when (after 0, each later than the one before)", bound=SCALE),
    Key("pools.*.schedule[].size", "integer", "its people from then on (0: nobody, e.g. a holiday)", bound=PEOPLE0),
    Key("pools.*.calendar", "mapping or null", "when the pool's people work: its work advances only then, a person "
        "free outside it starts the next item at the next opening (docs/model.md, \"Working calendars\"); needs "
        "`time_unit` minute, hour, day or week; null: always", None),
    Key("pools.*.calendar.days", "names", "working weekdays: of `mon tue wed thu fri sat sun`, no repeats",
        "[mon, tue, wed, thu, fri]"),
    Key("pools.*.calendar.hours", "list", "working hours of each working day, local time: one `[from, to]` or a "
        "list of them, 0 <= from < to <= 24, sorted, not overlapping", "[[9, 17]]"),
    Key("pools.*.calendar.hours[]", "number or list", "an hour of the one pair, or a `[from, to]` pair", bound=HOURS),
    Key("pools.*.calendar.hours[][]", "number", "an hour of the day, local time", bound=HOURS),
    Key("pools.*.calendar.off", "names or null", "dates without work (`YYYY-MM-DD`, local: holidays); needs "
        "the stream's `epoch`", None),
    Key("pools.*.dispatch", "string",
        "which queue a person who finishes serves next (own skill first: their fastest steps before slower ones)",
        "downstream_first",
        choices=DISPATCH_RULES),
    Key("pools.*.interruptions", "mapping or null", "unplanned interruptions while working", None),
    Key("pools.*.interruptions.rate", "number", "interruptions per unit of work time", bound=RATE),
    Key("pools.*.interruptions.duration", "distribution", "the length of one interruption"),
    Key("pools.*.switch_cost", "distribution or null", "paid on starting an item at another step; 0 or null: none",
        None),
    Key("release", "mapping", "when arrived work is committed", "push, no limits"),
    Key("release.policy", "string", "commit on arrival, or under a CONWIP limit", "push", choices=RELEASE_POLICIES),
    Key("release.conwip", "integer or null", "committed, not done items at most; required with conwip, null with push",
        None, COUNT),
    Key("release.backlog_limit", "integer or null", "arrivals beyond it are rejected; null: unbounded", None, COUNT0),
    Key("teams", "mapping or null", "boards that work the children of split steps and team dependencies, by "
        "name (a name as above); results name what is inside a team `TEAM/NAME`", None),
    Key("teams.*", "mapping", "a team: a stream without arrivals, inline, or `{stream: NAME}` with keys that "
        "override the file's"),
    Key("teams.*.stream", "string", "a stream file NAME.yaml in the folder of this stream file whose `pools`, "
        "`steps`, `release` and `teams` the team takes (its other keys are ignored, its `time_unit` must be the "
        "stream's); the keys given next to it override the file's, mapping by mapping", None),
    Key("teams.*.pools", "mapping", "the team's people, as the stream's `pools`", None, like="pools"),
    Key("teams.*.steps", "mapping", "the team's board, as the stream's `steps`", None, like="steps"),
    Key("teams.*.release", "mapping", "as the stream's `release` (a CONWIP limit is the team's WIP limit); "
        "`backlog_limit` null: a team cannot refuse a child", "push, no limits", like="release"),
    Key("teams.*.teams", "mapping or null", "the team's own teams, as the stream's `teams`: a split in the team "
        "names them first, then the teams around it", None, like="teams"),
    Key("steps", "mapping", "non-empty; the columns of the board by name, in flow order (top to bottom)"),
    Key("parts", "integer", "every `parts` consecutive arrivals are the parts of one item (written by "
        "`split_items`; results count whole items, [metrics.md](metrics.md#split-items)); > 1 needs "
        "`release.backlog_limit` null and no `teams` (a stream with teams splits items with a split step)", 1, COUNT),
    Key("steps.*", "mapping", "a step"),
    Key("steps.*.pool", "string or list or null", "existing pools, no repeats; a list is an order of preference; "
        "none on a split step", None),
    Key("steps.*.pool[]", "string or mapping", "a pool, or `{pool: NAME, speed: S}`: its people work this step at "
        "speed S (work time ÷ S)", None),
    Key("steps.*.pool[].pool", "string", "an existing pool", bound=None),
    Key("steps.*.pool[].speed", "number", "how fast its people work this step: 1 their own speed, 0.5 half as "
        "fast (work time ÷ speed)", 1.0, SPEED),
    Key("steps.*.work", "distribution or null", "the work of one visit, multiplied by the item's size; none on a split "
        "step", None),
    Key("steps.*.pick", "string", "who starts an item that becomes workable: `order`, a free person of the first "
        "pool of the list that has one; `fastest`, a free person of the pool that works this step fastest "
        "(ties: list order)", "order", choices=PICK_RULES),
    Key("steps.*.swarm", "integer or mapping", "up to this many people of the step's pools work one item "
        "together: it starts with whoever is free, others join as they free up (before they start a queued item), "
        "the remaining work divides among those present; 1: one person per item; or `{people: K, overhead: C}`",
        1, SWARM),
    Key("steps.*.swarm.people", "integer", "the most people on one item", bound=SWARM),
    Key("steps.*.swarm.overhead", "number", "coordination overhead: n people work at the sum of their speeds ÷ "
        "(1 + C·(n − 1)); 0: none", 0.0, OVERHEAD),
    Key("steps.*.wip_limit", "integer or null", "items in the column at most; null: no limit", None, COUNT),
    Key("steps.*.handoff", "distribution or null", "delay after this step, waited in the next column", None),
    Key("steps.*.dependency", "mapping or null", "a wait on another team before the item is workable", None),
    Key("steps.*.dependency.probability", "number", "the chance an item waits", bound=PROBABILITY),
    Key("steps.*.dependency.delay", "distribution or null", "how long it waits; required without `team`, waited after "
        "the team's piece of work with it", None),
    Key("steps.*.dependency.team", "string or null", "the team that does the piece of work the item waits for (a "
        "child of level `dependency` through all its steps); looked up as a split's teams are", None),
    Key("steps.*.dependency.size", "number or distribution or null", "the size of that piece of work (with `team`); "
        "null: the item's size", None, SCALE),
    Key("steps.*.rework", "mapping or null", "a failed check sends the item back", None),
    Key("steps.*.rework.probability", "number", "the chance an item fails the check (1 − %C&A)", bound=REWORK),
    Key("steps.*.rework.to", "string", "this step or an earlier one"),
    Key("steps.*.batch", "integer", "transfer batch; at most this and the next step's wip_limit and release.conwip", 1,
        COUNT),
    Key("steps.*.cadence", "number or null", "batches leave at ticks n·cadence only", None, SCALE),
    Key("steps.*.types", "names or null", "the item types that visit this step; null: all", None),
    Key("steps.*.description", "string", "accepted and ignored; a string or null", None),
    Key("steps.*.split", "mapping or null", "the item (the parent) is split into children for teams on admission "
        "and waits here, in the column's WIP, until its last child is done (the join); no `pool`, `work`, "
        "`rework` or `dependency`", None),
    Key("steps.*.split.into", "string", "the children's level (a name as above); one level name per depth, "
        "never the stream's `level` or `dependency`"),
    Key("steps.*.split.teams", "mapping", "non-empty; the children per team, by team name: the teams of the board "
        "the step is on first, then those around it, up to the stream's"),
    Key("steps.*.split.teams.*", "mapping", "one team's children (they keep the parent's type and class of "
        "service)"),
    Key("steps.*.split.teams.*.count", "integer or distribution", "children per parent; a distribution is drawn "
        "per parent and rounded half up, ⌊x + ½⌋ (0: none)", 1, COUNT0),
    Key("steps.*.split.size", "number or distribution", "each child's size, times the parent's; a distribution "
        "with mean > 0 is drawn per child", 1.0, SCALE),
    Key("steps.*.split.choose", "names or null", "at least 2 of the split's teams, no repeats: per parent ONE of "
        "them is drawn, with probability ∝ its count's mean, and only it makes children (its count); the "
        "split's other teams make theirs as usual; null: every team makes its count", None),
)
KEYS: dict[str, Key] = {k.path: k for k in _KEYS}
"""Every key of a stream file by path (docs/model.md §2)."""


def children(path: str) -> tuple[str, ...]:
    """The names of the keys a mapping at `path` ("" for the top level) takes, in table order."""
    prefix = f"{path}." if path else ""
    return tuple(k.name for p, k in KEYS.items() if p.startswith(prefix) and _is_name(p[len(prefix):]))


def _is_name(rest: str) -> bool:
    return bool(rest) and "." not in rest and rest != "*" and not rest.endswith("[]")


def required_keys(path: str) -> tuple[str, ...]:
    """The names of the keys a mapping at `path` must have."""
    prefix = f"{path}." if path else ""
    return tuple(n for n in children(path) if KEYS[prefix + n].required)


def default(path: str) -> Any:
    return KEYS[path].default


# --------------------------------------------------------------------------- distributions
@dataclass(frozen=True)
class Family:
    """A built-in distribution: its parameters (as keys, path = the name), the forms it is written in
    (each a set of parameters, given exactly), and its meaning."""

    params: tuple[Key, ...]
    forms: tuple[tuple[str, ...], ...]
    doc: str

    def param(self, name: str) -> Key:
        return next(p for p in self.params if p.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def optional(self) -> tuple[str, ...]:
        """The parameters outside every form (pert's lambda)."""
        return tuple(n for n in self.names if not any(n in form for form in self.forms))


def _p(name: str, bound: Bound, doc: str = "", default: Any = REQUIRED) -> Key:
    return Key(name, "number", doc, default, bound)


_MEAN = _p("mean", SCALE)
_CV = _p("cv", CV)
_LOW, _MODE, _HIGH = _p("low", TIME), _p("mode", TIME, "in [low, high]"), _p("high", TIME, "> low")
FAMILIES: dict[str, Family] = {
    "exponential": Family((_MEAN, _p("cv", EXPONENTIAL_CV, "may be given, must be 1", None)), (("mean",),),
                          "rate 1/mean"),
    "lognormal": Family((_MEAN, _CV), (("mean", "cv"),), "σ² = ln(1 + cv²), μ = ln(mean) − σ²/2; X = e^(μ + σZ)"),
    "gamma": Family((_MEAN, _CV), (("mean", "cv"),), "shape k = 1/cv², scale θ = mean·cv²"),
    "weibull": Family((_MEAN, _p("cv", WEIBULL_CV)), (("mean", "cv"),),
                      "shape k solves cv² = Γ(1+2/k)/Γ(1+1/k)² − 1; scale = mean/Γ(1+1/k)"),
    "deterministic": Family((_p("value", TIME), _p("mean", TIME, "a synonym of value; not both")),
                            (("value",), ("mean",)), "always `value`"),
    "uniform": Family((_LOW, _p("high", TIME, "> low"), _MEAN,
                       _p("cv", UNIFORM_CV, f"mean·(1 + √3·cv) ≤ {MAX_TIME:g}")),
                      (("low", "high"), ("mean", "cv")), "low, high = mean ∓ √3·mean·cv"),
    "triangular": Family((_LOW, _MODE, _HIGH), (("low", "mode", "high"),), "mean (low + mode + high)/3"),
    "pert": Family((_LOW, _MODE, _HIGH, _p("lambda", LAMBDA, "", 4.0)), (("low", "mode", "high"),),
                   "X = low + (high−low)·Beta(α, β), α = 1 + λ(mode−low)/(high−low), β = 1 + λ(high−mode)/(high−low); "
                   "mean (low + λ·mode + high)/(λ+2)"),
    "empirical": Family((Key("values", "list", "non-empty", bound=TIME),
                         Key("file", "string", "one number per line, or a CSV whose first all-numeric column is "
                             "used (header optional, `#` lines skipped); relative to the working directory; "
                             "a regular UTF-8 file of at most 64 MiB (not `/dev/zero`, a pipe or a folder); "
                             "an error names the line, never quotes the file")),
                        (("values",), ("file",)), "resampled uniformly with replacement"),
}
"""The built-in distributions (docs/model.md §3); any other `dist` is a scipy.stats name."""
BUILTINS = tuple(FAMILIES)
SCIPY_SCALE, SCIPY_PARAMETER = SCALE, Bound(-MAX_TIME, MAX_TIME, was=Bound(words="a finite number"))
"""scipy.stats parameters: `scale` is a positive scale; `loc` and the shape parameters are finite, within ±MAX_TIME."""


def family(name: str) -> Family:
    return FAMILIES[name]


BOUNDS = (
    (TIME.text(), "times and durations that may be 0: trace times, `deterministic` values, `low`, `mode`, `high`, "
     "`empirical` values",
     "the clock is a float64: up to 1e12 time units it still resolves 1e-4, and sums of many such times stay far "
     "from overflow (10^12 days are 2.7 billion years; for longer spans choose a longer `time_unit`)"),
    (SCALE.text(), "positive scales: every `mean`, `arrivals.interval`, `cadence`, sizes, a scipy `scale`",
     "as above at the top; below 1e-9 a scale is inverted (1/interval) or multiplied by cv² (a gamma's scale) into "
     "floats that lose their precision (choose a shorter `time_unit`)"),
    (RATE.text(), "`arrivals.rate`, `interruptions.rate`",
     "rates are reciprocal scales: the gaps are drawn with mean 1/rate"),
    (PROFILE_SHAPE.text(), "`arrivals.profile.weekly` and `daily` values",
     "relative rates: each shape is divided by its mean, so only ratios matter"),
    (TREND.text(), "`arrivals.profile.trend`", "a relative change per time unit: at -1 the rate is 0 after one "
     "unit, at 1 it doubles in one (choose a longer `time_unit` for a steeper trend)"),
    (PEOPLE.text(), "people per pool, and in all pools together; a step's `swarm`",
     "the engines keep a record per person (10^6 people take about 60 MB); a pool of 10^12 ran out of memory"),
    (COUNT.text(), "`arrivals.count`, `wip_limit`, `release.conwip`, `batch` (`backlog_limit` from 0)",
     "item counts: more than any run can move (each item is a row of the records), inside every integer type"),
    (OVERHEAD.text(), "a swarm's `overhead`", "a coordination cost per extra person: at 1000 two people already "
     "work 500 times slower than one, and 1 + overhead·(people − 1) stays far inside float64"),
    (CV.text(), "the `cv` of `lognormal` and `gamma`",
     "cv² and the gamma's shape 1/cv² stay inside float64 (a cv of 1e200 overflowed, one of 1e-200 divided by "
     "zero); below 1e-6 write `deterministic`; at 100 a gamma already draws 0 (float64 underflow) for 93 % of "
     "items, beyond a run could not show the distribution written"),
    (WEIBULL_CV.text(), "the `cv` of `weibull`", "the range over which its shape k is solved (0.147 to 128)"),
    (LAMBDA.text(), "the `lambda` of `pert`",
     "keeps the beta's α + β where its moments are finite; above 1e6 the PERT is its mode to 1e-3 of its range"),
    (WEIGHT.text(), "`business_value`", "a weight: sums over 10^9 items stay exact to float64 precision"),
    (f"≤ {MAX_TIME:g}", "a `uniform`'s high end mean·(1 + √3·cv); a scipy distribution's mean",
     "the same as every time"),
    (f"≤ {MAX_DRAW:g}", "a scipy distribution's largest draw (its 1 − 10⁻¹⁵ quantile)",
     "sums of 10^18 draws stay below float64's 1.8e308 (a pareto with b = 0.01 draws inf)"),
    (VERSION.text(), "`schema_version`", "the versions this vssim reads (see Versions below)"),
    (f"≤ {MAX_TEAMS}", "teams in a stream, each `{stream: NAME}` reference counted where it is used",
     "a file that names another twice, which names a third twice, and so on, would expand to billions of boards"),
)
"""Each bound as docs/model.md explains it: the bound, where it applies, and why."""


# --------------------------------------------------------------------------- schema versions
def schema_version(data: Any) -> int:
    """The version a stream mapping says it is written in (1 when it does not say); refuses a newer one."""
    if not isinstance(data, Mapping) or "schema_version" not in data:
        return 1
    value = data["schema_version"]
    whole = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        and float(value).is_integer()
    if whole and value > SCHEMA_VERSION:
        raise SpecError("schema_version", message=f"written for a newer vssim: schema_version {int(value)}; "
                                                  f"this vssim reads up to {SCHEMA_VERSION}")
    return VERSION.check(value, "schema_version")


def tell_what_changed(error: SpecError, version: int) -> SpecError:
    """`error` with what changed since `version`, when a check added after it refused the value."""
    since = getattr(error, "since", 1)
    if version >= since:
        return error
    return SpecError(error.path, message=f"{error.reason} (this file is schema version {version}: {CHANGES[since]})")


