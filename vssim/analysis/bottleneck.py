"""Where the stream is constrained, and which flow accelerators address what the run shows.

`analyse(result)` reads a run's summary (utilisation, queue, blocked and process times per step,
pool utilisations), the stream spec (pools, cadences, batches, WIP limits, handoffs,
dependencies, rework, interruptions) and, when the run's records are at hand, the per-visit
table (queue time proper: workable → started). It names the constraint, writes findings a
manager can read, with the figures behind them, and lists the accelerator scenarios that
address them, most costly finding first. Data only; the rules and thresholds are documented
in docs/analysis.md and are the module constants below.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from vssim.analysis.vsm import item_metrics, num, rolled, routes, step_visits
from vssim.files import json_value
from vssim.formatting import percent, plural, rounded

ACCELERATORS = ("limit_wip", "elevate_constraint", "fewer_handoffs", "faster_feedback", "smaller_batches",
                "shorter_queues", "time_in_the_zone", "legacy_policies", "pull", "cross_functional_team")
"""The scenario keys `analyse` may recommend."""

UTILIZATION_HIGH = 0.85
"""A pool at least this busy is a constraint: elevate it and limit WIP in front of it."""
UTILIZATION_LOW = 0.5
"""A pool below this is under-used: a candidate to share work with the constraint."""
IDLE_POOLS_MIN = 2
"""Under-used pools needed, next to a constraint, to suggest a cross-functional team."""
BLOCKED_RATIO = 1.0
"""A step is blocked when finished items wait in it longer than BLOCKED_RATIO × its process time..."""
BLOCKED_MIN_SHARE = 0.02
"""...and that wait (visits × blocked) is at least this share of the lead time per item."""
BLOCKED_CAUSE_SHARE = 0.25
"""A cause of blocking is named when its estimated share of the blocked time reaches this."""
HANDOFF_RATIO = 0.5
"""Handoff + dependency delay per item at least this × the touch time per item: too many handoffs."""
PCA_LOW = 0.9
"""A step whose %C&A is below this sends too much back: get faster feedback."""
BACKLOG_RATIO = 1.0
"""Time in the backlog at least this × the flow time: the queue in front of the stream is too long."""

TABLE_COLUMNS = ("step", "pools", "utilization", "step_utilization", "queue_length", "queue_time", "wait",
                 "blocked", "process_time", "touch_time", "pct_complete_accurate", "wip", "visits", "throughput")


@dataclass
class Finding:
    """One observation: a sentence, the accelerators that address it, and its cost per item."""

    text: str
    accelerators: tuple[str, ...]
    impact: float          # time per item (time_unit) the finding costs, for ordering
    kind: str


@dataclass
class Bottleneck:
    """The bottleneck analysis of a run."""

    table: pd.DataFrame
    constraint_pool: str
    constraint_step: str
    findings: list[str]
    accelerators: list[str]
    details: list[Finding] = field(default_factory=list, repr=False)
    time_unit: str = "day"

    def to_dict(self) -> dict:
        """JSON-able (NaN → None)."""
        plain = json_value
        return {"constraint_pool": self.constraint_pool, "constraint_step": self.constraint_step,
                "findings": list(self.findings), "accelerators": list(self.accelerators),
                "time_unit": self.time_unit,
                "table": [{k: plain(v) for k, v in r.items()} for r in self.table.to_dict(orient="records")]}


# --------------------------------------------------------------------------- helpers
def queue_times(result) -> dict[str, float]:
    """Mean time from workable to started per step (visits entered after warmup), from the records.

    Per replication, then the mean over replications, like the summary's `wait`. Empty when the
    run's records are not at hand (a summary dict).
    """
    records = getattr(result, "records", None)
    if not records:
        return {}
    warmup = float(result.summary["sim"].get("warmup") or 0.0)
    v = result.visits
    v = v[(v["enter"] >= warmup) & v["start"].notna()]
    if v.empty:
        return {}
    q = (v["start"] - v["ready"]).rename("queue")
    per_rep = q.groupby([v["step"], v["replication"]], observed=False).mean()   # every step, visited or not
    return {str(s): float(g.mean()) for s, g in per_rep.groupby(level=0, observed=False)}


def _table(result, spec, summary) -> pd.DataFrame:
    pools = {p: num(u.get("utilization")) for p, u in summary["pools"].items()}
    visits = step_visits(summary, spec)
    queue = queue_times(result)
    rows = []
    for name, s in summary["steps"].items():
        step_pools = tuple(spec.steps[name].pools) if spec is not None and name in spec.steps else ()
        util = [pools.get(p, math.nan) for p in step_pools]
        util = [u for u in util if math.isfinite(u)]
        ql, rate = num(s.get("queue_length")), num(s.get("throughput"))
        qt = queue.get(name, ql / rate if rate > 0 else math.nan)
        rows.append({
            "step": name, "pools": step_pools,
            "utilization": max(util) if util else math.nan,
            "step_utilization": num(s.get("utilization")),
            "queue_length": ql, "queue_time": qt,
            "wait": num(s.get("wait")), "blocked": num(s.get("blocked")),
            "process_time": num(s.get("process_time")), "touch_time": num(s.get("touch_time")),
            "pct_complete_accurate": num(s.get("pct_complete_accurate")),
            "wip": num(s.get("wip")), "visits": visits.get(name, math.nan), "throughput": rate,
        })
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _z(x: float) -> float:
    return x if math.isfinite(x) else 0.0


# --------------------------------------------------------------------------- the analysis
def analyse(result, spec=None) -> Bottleneck:
    """Name the constraint of a run and the accelerators that address what the run shows."""
    summary = getattr(result, "summary", result)
    spec = spec if spec is not None else getattr(result, "spec", None)
    if spec is None:
        raise TypeError("analyse needs the stream spec: pass a SimResult or spec=")
    unit = str(summary.get("time_unit") or spec.time_unit)
    units = plural(unit)
    table = _table(result, spec, summary)
    metrics = item_metrics(summary)          # a split stream's parts: what visits the steps
    lead = num(metrics["lead_time"]["mean"])
    flow = num(metrics["flow_time"]["mean"])
    by_step = {r["step"]: r for r in table.to_dict(orient="records")}
    # the stream's own board (a stream with teams: its teams' boards are analysed in the report's hierarchy);
    # a board whose every step splits has no people (`split_work`): then every board's pools
    pool_util = {p: num(u.get("utilization")) for p, u in summary["pools"].items()
                 if p in spec.pools or not spec.pools}
    findings: list[Finding] = []

    # ---- the constraint: the busiest pool, and its step where items queue longest
    ranked = sorted(pool_util, key=lambda p: -pool_util[p] if math.isfinite(pool_util[p]) else math.inf)
    constraint_pool = ranked[0]
    u_max = pool_util[constraint_pool]
    served = [s for s in by_step if constraint_pool in by_step[s]["pools"]] or list(by_step)
    constraint_step = max(served, key=lambda s: (_z(by_step[s]["queue_time"]), _z(by_step[s]["wait"])))
    c = by_step[constraint_step]
    board, _, local = ("", "", constraint_pool) if constraint_pool in spec.pools else constraint_pool.rpartition("/")
    size = spec.board(board)[1][local].size
    people = f"{size} {'person' if size == 1 else 'people'}"
    high = math.isfinite(u_max) and u_max >= UTILIZATION_HIGH
    if high:
        findings.append(Finding(
            f"{constraint_pool} ({people}) are {percent(u_max)} busy: {constraint_step} is the constraint; items "
            f"queue {rounded(_z(c['queue_time']))} {units} there for a person ({rounded(_z(c['wait']))} {units} "
            f"from entering the column to being started). Elevate it (more or faster capacity at {constraint_step}) "
            f"and limit WIP so that work does not pile up in front of it.",
            ("elevate_constraint", "limit_wip"), _z(c["visits"]) * _z(c["queue_time"]), "constraint"))
    else:
        findings.append(Finding(
            f"No pool is overloaded: the busiest, {constraint_pool} ({people}), is {percent(_z(u_max), 1)} busy, "
            f"below the {percent(UTILIZATION_HIGH)} at which queues grow steeply; its longest queue is at "
            f"{constraint_step} ({rounded(_z(c['queue_time']))} {units}).", (), 0.0, "constraint"))

    # ---- under-used pools next to a constrained one
    idle = [p for p in pool_util if p != constraint_pool and math.isfinite(pool_util[p])
            and pool_util[p] < UTILIZATION_LOW]
    if high and len(idle) >= IDLE_POOLS_MIN:
        listing = ", ".join(f"{p} {percent(pool_util[p])}" for p in sorted(idle, key=lambda p: pool_util[p]))
        findings.append(Finding(
            f"{len(idle)} pools are less than half busy ({listing}) while {constraint_pool} is {percent(u_max)} busy: "
            f"a cross-functional team that shares their capacity with {constraint_step} would relieve the "
            f"constraint.", ("cross_functional_team",), findings[0].impact, "cross_functional"))

    # ---- blocked time: cadence, batch or a full column downstream
    names = list(by_step)
    for j, name in enumerate(names):
        r = by_step[name]
        blocked, work, visits = r["blocked"], r["process_time"], _z(r["visits"])
        if not (math.isfinite(blocked) and blocked > 0 and blocked > BLOCKED_RATIO * _z(work)):
            continue
        if math.isfinite(lead) and lead > 0 and visits * blocked < BLOCKED_MIN_SHARE * lead:
            continue
        findings.extend(_blocked_findings(spec, name, j, names, r, blocked, visits, units, unit))

    # ---- handoffs and dependencies (expected delays from the spec, weighted by measured visits)
    per_step, handoff_total = handoff_delays(spec, {s: _z(by_step[s]["visits"]) for s in names})
    touch_total = sum(_z(by_step[s]["visits"]) * _z(by_step[s]["touch_time"]) for s in names)
    if handoff_total > 0 and handoff_total >= HANDOFF_RATIO * touch_total:
        top = sorted(per_step.items(), key=lambda kv: -kv[1])[:3]
        listing = ", ".join(f"{s} {rounded(v)}" for s, v in top if v > 0)
        ratio = handoff_total / touch_total if touch_total > 0 else math.inf
        findings.append(Finding(
            f"Handoffs and dependencies add about {rounded(handoff_total)} {units} of waiting per item (largest: "
            f"{listing}), {percent(ratio)} of the {rounded(touch_total)} {units} of work: fewer handoffs and "
            f"dependencies shorten lead time directly.", ("fewer_handoffs",), handoff_total, "handoffs"))

    # ---- first-pass quality
    bad = [s for s in names if math.isfinite(by_step[s]["pct_complete_accurate"])
           and by_step[s]["pct_complete_accurate"] < PCA_LOW]
    if bad:
        first_pass = rolled({s: by_step[s]["pct_complete_accurate"] for s in names}, routes(summary, spec))
        parts = []
        for s in bad:
            p = by_step[s]["pct_complete_accurate"]
            to = spec.steps[s].rework.to if spec.steps[s].rework else s
            parts.append(f"{s} sends {percent(1 - p)} of items back to {to} (%C&A {percent(p)})")
        findings.append(Finding(
            "Rework: " + "; ".join(parts) + f". Only {percent(first_pass)} of items pass every step first time "
            f"(rolled %C&A); the rework costs about {rounded(rework_time(spec, by_step))} {units} per item. "
            "Faster feedback (test earlier, in smaller pieces) cuts it.",
            ("faster_feedback",), rework_time(spec, by_step), "rework"))

    # ---- interruptions and context switches
    for pname, pool in spec.pools.items():
        if pool.interruptions is None and pool.switch_cost is None:
            continue
        mine = [s for s in names if pname in by_step[s]["pools"]]
        busy = sum(_z(by_step[s]["visits"]) * _z(by_step[s]["process_time"]) for s in mine)
        over = sum(_z(by_step[s]["visits"]) * max(0.0, _z(by_step[s]["process_time"]) - _z(by_step[s]["touch_time"]))
                   for s in mine)
        what = " and ".join(w for w, on in (("interruptions", pool.interruptions is not None),
                                            ("context switches", pool.switch_cost is not None)) if on)
        share = over / busy if busy > 0 else 0.0
        findings.append(Finding(
            f"{pname}: {what} take {percent(share)} of their working time ({rounded(over)} {units} per item at "
            f"{', '.join(mine) or 'no step'}); protecting time in the zone gives that capacity back.",
            ("time_in_the_zone",), over, "zone"))

    # ---- the queue in front of the stream
    backlog_time = lead - flow if math.isfinite(lead) and math.isfinite(flow) else math.nan
    if math.isfinite(backlog_time) and backlog_time > 0 and backlog_time >= BACKLOG_RATIO * flow:
        items = num(metrics.get("backlog", {}).get("mean"))
        findings.append(Finding(
            f"Items wait {rounded(backlog_time)} {units} in the backlog before work starts, longer than the "
            f"{rounded(flow)} {units} they take once started (on average {rounded(_z(items))} items waiting): shorter "
            "queues (a smaller backlog, fewer early commitments) cut lead time without touching the work.",
            ("shorter_queues",), backlog_time, "backlog"))

    # the constraint sentence stays first; the rest by what they cost per item
    head, rest = findings[:1], sorted(findings[1:], key=lambda f: -f.impact)
    if high:
        ordered = sorted(head + rest, key=lambda f: -f.impact)
    else:
        ordered = head + rest
    accelerators: list[str] = []
    for f in ordered:
        for a in f.accelerators:
            if a not in accelerators:
                accelerators.append(a)
    return Bottleneck(table=table, constraint_pool=constraint_pool, constraint_step=constraint_step,
                      findings=[f.text for f in ordered], accelerators=accelerators, details=ordered,
                      time_unit=unit)


def _blocked_findings(spec, name, j, names, r, blocked, visits, units, unit) -> list[Finding]:
    step = spec.steps[name]
    work = _z(r["process_time"])
    # estimated components of the blocked time per visit (docs/analysis.md)
    cadence = step.cadence / 2 if step.cadence else 0.0
    out_rate = _out_rate(r)
    batch = (step.batch - 1) / (2 * out_rate) if step.batch > 1 and out_rate > 0 else 0.0
    downstream = _downstream_limits(spec, j, names)
    rest = max(0.0, blocked - cadence - batch)
    candidates = {"cadence": cadence if step.cadence else None, "batch": batch if step.batch > 1 else None,
                  "downstream": rest if downstream else None}
    present = {k: v for k, v in candidates.items() if v is not None}
    named = {k: v for k, v in present.items() if v >= BLOCKED_CAUSE_SHARE * blocked}
    if not named:
        named = present
    out = []
    lead_in = f"{name}: finished items wait {rounded(blocked)} {units} in the column, longer than the " \
              f"{rounded(work)} {plural(unit, work)} of work"
    if "cadence" in named:
        out.append(Finding(
            f"{lead_in}, for the {step.cadence:g}-{unit} cadence (about {rounded(cadence)} {units} per visit from the "
            f"cadence alone): a legacy policy; releasing on demand, or more often, removes it.",
            ("legacy_policies",), visits * min(blocked, named["cadence"]), "cadence"))
    if "batch" in named:
        out.append(Finding(
            f"{lead_in}, for their batch of {step.batch} to fill: smaller batches cut it.",
            ("smaller_batches",), visits * min(blocked, named["batch"]), "batch"))
    if "downstream" in named:
        where = ", ".join(f"{k} (WIP limit {spec.steps[k].wip_limit})" for k in downstream)
        out.append(Finding(
            f"{lead_in}, for room in {where}: the column downstream is full and cannot keep up. Elevate it, or "
            "pull work into the stream only when there is room instead of pushing it.",
            ("elevate_constraint", "pull"), visits * min(blocked, named["downstream"]), "downstream"))
    if not out:
        out.append(Finding(f"{lead_in}.", (), visits * blocked, "blocked"))
    return out


def _out_rate(r: dict) -> float:
    """Items leaving the step forward per time unit (visits that passed their check)."""
    p = r["pct_complete_accurate"] if math.isfinite(r["pct_complete_accurate"]) else 1.0
    rate = r["throughput"]
    return rate * p if math.isfinite(rate) else math.nan


def _downstream_limits(spec, j: int, names: list[str]) -> list[str]:
    """WIP-limited columns an item leaving step j may have to wait for (next step, rework target)."""
    out = []
    nexts = sorted({spec.route(t)[j + 1] for t in spec.item_types if spec.steps[names[j]].visited_by(t)})
    for k in nexts:                        # routing by type: the next column each type goes to
        if k < len(names) and spec.steps[names[k]].wip_limit is not None:
            out.append(names[k])
    rw = spec.steps[names[j]].rework
    if rw is not None and rw.to != names[j] and spec.steps[rw.to].wip_limit is not None and rw.to not in out:
        out.append(rw.to)
    return out


def handoff_delays(spec, visits: dict[str, float]) -> tuple[dict[str, float], float]:
    """Expected handoff + dependency delay per item, by step where the delay is suffered.

    A handoff of step j delays every move from j into another column (not leaving the last
    step, not a return to j itself); a dependency of step k delays each entry to k with its
    probability. Moves out of j: visits_j × (1 − p_j) forward unless j is last, plus
    visits_j × p_j back when the rework target is another step.
    """
    names = list(spec.steps)
    out = dict.fromkeys(names, 0.0)
    for j, name in enumerate(names):
        s = spec.steps[name]
        v = visits.get(name, 0.0)
        if s.dependency is not None:
            out[name] += v * s.dependency.probability * _mean(s.dependency.delay)
        if s.handoff is not None:
            p = s.rework.probability if s.rework else 0.0
            moves = v * ((1 - p) if j + 1 < len(names) else 0.0)
            if s.rework and s.rework.to != name:
                moves += v * p
            target = names[j + 1] if j + 1 < len(names) else (s.rework.to if s.rework else name)
            out[target] += moves * _mean(s.handoff)
    return out, sum(out.values())


def rework_time(spec, by_step: dict) -> float:
    """Time per item spent on repeat visits: Σ (visits − first-pass visits) × time in the column."""
    share = {s: sum(t.share for t in spec.item_types.values() if spec.steps[s].visited_by(t.name))
             for s in spec.steps}
    total = 0.0
    for s, r in by_step.items():
        extra = _z(r["visits"]) - share.get(s, 1.0)
        per_visit = _z(r["wait"]) + _z(r["process_time"]) + _z(r["blocked"])
        total += max(0.0, extra) * per_visit
    return total


def _mean(d) -> float:
    m = getattr(d, "mean", math.nan)
    return float(m) if m is not None and math.isfinite(m) else 0.0
