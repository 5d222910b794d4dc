"""Experiments: a stream, one or more scenarios, one set of simulation settings, one report.

A single scenario (or a composition of several) is a run: results and a report in the run
directory. Several alternatives are a comparison: every alternative runs with the same seed, so
replication r of each draws the same random numbers (common random numbers), each writes its
own results under `scenarios/NAME/`, and the comparison (paired differences to the baseline)
goes into `comparison.json`, `comparison.parquet` and the top-level `report.md`.

`run_config` runs what the command line composed (as plain mappings: no Hydra here); a
transform that needs a pilot run gets it from `Pilot`, through the scenario's `Context`.
"""
from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from vssim.analysis.result import SimResult
from vssim.errors import SpecError
from vssim.files import SCHEMA_VERSION, remove_temporary, write_atomic
from vssim.model.settings import MAX_EVENTS, Settings
from vssim.model.spec import StreamSpec
from vssim.run.simulate import check_settings, simulate
from vssim.run.status import mark
from vssim.scenarios.scenario import BASELINE, Context, Scenario, compose


@dataclass(frozen=True)
class Pilot:
    """A pilot run for a transform that needs one (elevate_constraint): the stream simulated
    with these settings (SimPy engine, no progress bar), its summary returned. A finite stream
    (backlog, trace arrivals) runs until every item is done, without warmup, with full stats."""

    seed: int = 0
    horizon: float | None = 2000.0
    warmup: float = 200.0
    replications: int = 3
    stats: str = "full"            # streaming: the pilot keeps running totals only (long horizons)
    max_events: float | None = MAX_EVENTS

    def __call__(self, spec: StreamSpec) -> dict:
        finite = spec.arrivals.finite
        result = simulate(spec, horizon=None if finite else self.horizon, warmup=0.0 if finite else self.warmup,
                          replications=self.replications, seed=self.seed, progress=False,
                          stats="full" if finite else self.stats, max_events=self.max_events)
        return result.summary


def context(settings: Settings) -> Context:
    """What structural transforms may use: a pilot run on the experiment's seed, horizon, warmup
    and statistics, with at most 3 replications."""
    return Context(pilot=Pilot(seed=settings.seed, horizon=settings.horizon, warmup=settings.warmup,
                               replications=min(settings.replications, 3), stats=settings.stats,
                               max_events=settings.max_events))


@dataclass
class Outcome:
    """What an experiment produced."""

    results: dict[str, SimResult]
    comparison: object | None = None
    report: Path | None = None
    out: Path | None = None
    baseline: str = "baseline"

    @property
    def summary(self) -> dict:
        """The summary of the baseline run (or of the only run)."""
        return self.results[self.baseline].summary


def alternatives(scenarios: Mapping[str, Scenario], names: Sequence[str] | None) -> dict[str, Scenario]:
    """Resolve alternative names ("a", "a+b") against the loaded scenarios."""
    names = list(scenarios) if names is None else list(names)
    out = {}
    for name in names:
        parts = name.split("+")
        missing = [p for p in parts if p not in scenarios and p != "baseline"]
        if missing:
            raise SpecError("compare.alternatives", "names of loaded scenarios: " + ", ".join(scenarios), name)
        out[name] = compose([scenarios.get(p, BASELINE) for p in parts]) if len(parts) > 1 \
            else scenarios.get(name, BASELINE)
    return out


def run_one(spec: StreamSpec, scenario: Scenario, settings: Settings) -> SimResult:
    """Apply a scenario to a stream and simulate it; with a `transition`, the stream as it is until
    its time and the scenario's organisation after (`vssim.model.transition`)."""
    changed = scenario.apply(spec, context=context(settings))
    switch = {} if scenario.transition is None else dict(
        transition=scenario.transition, before=spec, moves=scenario.moves(spec, context=context(settings)))
    return simulate(changed, horizon=settings.horizon, warmup=settings.warmup, replications=settings.replications,
                    seed=settings.seed, engine=settings.engine, planning_interval=settings.planning_interval,
                    scenario=scenario.name, progress=settings.progress, stats=settings.stats,
                    max_events=settings.max_events, **switch)


def run_experiment(spec: StreamSpec, scenarios: Mapping[str, Scenario], settings: Settings, out: str | Path, *,
                   compare: bool = False, compare_names: Sequence[str] | None = None, baseline: str = "baseline",
                   figures: bool = True, event_log: bool = True, title: str | None = None,
                   question: str | None = None, animate: bool = False,
                   sensitivity: Mapping | None = None) -> Outcome:
    """Run the stream under its scenarios and write results and reports to `out`.

    Without `compare`, the loaded scenarios are composed into one (in order) and run once.
    With it, each alternative (`compare_names`, default: every loaded scenario; "a+b" composes)
    runs on the same seed and is compared with `baseline`. `animate`: each run's report also gets
    `kanban.gif` (vssim.report.animate). An alternative with a `transition` is also read as a
    reorganisation in time (dip, break-even, gain); `sensitivity` ({productivity: [...], ramp: [...]})
    adds the grid of its break-even and gain over them. run.json gets the status and provenance.
    """
    started = time.time()
    mark(Path(out), None, "running", started)    # an earlier run's "done" does not vouch for this one
    outcome = _run_experiment(spec, scenarios, settings, Path(out), compare=compare, compare_names=compare_names,
                              baseline=baseline, figures=figures, event_log=event_log, title=title,
                              question=question, animate=animate, sensitivity=sensitivity)
    mark(outcome.out, None, "done", started)      # provenance (run.json); the command line adds its config
    return outcome


def _run_experiment(spec, scenarios, settings, out, *, compare, compare_names, baseline, figures, event_log, title,
                    question, animate, sensitivity=None) -> Outcome:
    from vssim.report.markdown import write_comparison_report, write_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    remove_temporary(out)           # what a run killed mid-write left (its results are written anew)
    if not compare:
        scenario = compose(list(scenarios.values())) if scenarios else BASELINE
        result = run_one(spec, scenario, settings)
        result.save(out, event_log=event_log)
        report = write_report(result, out, figures=figures, title=title, question=question, animate=animate)
        return Outcome({scenario.name: result}, report=report, out=out, baseline=scenario.name)

    alts = alternatives(scenarios, compare_names)
    if baseline not in alts:
        if baseline != "baseline":
            raise SpecError("compare.baseline", "one of the alternatives " + ", ".join(alts), baseline)
        alts = {"baseline": BASELINE, **alts}
    from vssim.analysis.compare import compare as compare_results

    results = {}
    for alt_name, scenario in alts.items():
        result = run_one(spec, scenario, settings)
        sub = out / "scenarios" / alt_name
        sub.mkdir(parents=True, exist_ok=True)
        remove_temporary(sub)
        result.save(sub, event_log=event_log)
        write_report(result, sub, figures=figures, animate=animate)
        results[alt_name] = result
    comparison = compare_results(results, baseline=baseline)
    transitions = _transitions(spec, alts, results, baseline, settings, out, sensitivity)
    write_atomic(out / "comparison.json", lambda p: p.write_text(json.dumps(comparison.to_dict(), indent=2)))
    write_atomic(out / "comparison.parquet", lambda p: comparison.table.to_parquet(p, index=False))
    summary = {"schema_version": SCHEMA_VERSION, **results[baseline].summary}
    summary["comparison"] = {"baseline": baseline, "alternatives": list(results), "table": "comparison.parquet"}
    if transitions:
        summary["transitions"] = {name: effect.to_dict() for name, (effect, _) in transitions.items()}
    write_atomic(out / "summary.json", lambda p: p.write_text(json.dumps(summary, indent=2)))
    report = write_comparison_report(results, comparison, out, figures=figures, title=title, question=question,
                                     descriptions={name: alts[name].description for name in results},
                                     transitions=transitions)
    return Outcome(results, comparison=comparison, report=report, out=out, baseline=baseline)


def _period(spec: StreamSpec) -> float | None:
    """The period of a transition's curves: a week (`default_period`), or the longest release cadence
    of the stream when it is longer (a monthly release board delivers in one week of four: weekly
    curves would be mostly empty); None: the analysis's default."""
    from vssim.analysis.transition import WEEK, unit_name

    week = WEEK.get(unit_name(spec.time_unit))
    cadences = [s.cadence for b in ("", *spec.teams) for s in spec.board(b)[0].values() if s.cadence]
    return max([week, *cadences]) if week is not None and cadences else None


def _transitions(spec: StreamSpec, alts: Mapping[str, Scenario], results: dict, baseline: str, settings: Settings,
                 out: Path, sensitivity: Mapping | None) -> dict:
    """Each alternative with a transition against the baseline (`vssim.analysis.transition`): its
    effect, written into its own summary.json (`transition`), and with `sensitivity` ({productivity:
    [...], ramp: [...]}) the grid of its break-even and gain over them (one more run per point,
    written to `scenarios/NAME/transition_sensitivity.csv`)."""
    from vssim.analysis.transition import effect_of
    from vssim.analysis.transition import sensitivity as grid_of

    found = {}
    for name, scenario in alts.items():
        t = scenario.transition
        if t is None or name == baseline:
            continue
        effect = effect_of(results[baseline], results[name], at=t.at, period=_period(spec))
        sub = out / "scenarios" / name
        grid = None
        if sensitivity:
            def run(p0: float, ramp: float, scenario=scenario, t=t):
                changed = dataclasses.replace(scenario, transition=dataclasses.replace(t, productivity=p0, ramp=ramp))
                return run_one(spec, changed, settings).records

            grid = grid_of(results[baseline].records, run, sensitivity["productivity"], sensitivity["ramp"], at=t.at,
                           time_unit=effect.time_unit, kind=effect.kind, period=effect.period)
            write_atomic(sub / "transition_sensitivity.csv", lambda p, g=grid: g.to_csv(p, index=False))
        results[name].summary["transition"] = effect.to_dict()
        summary = {"schema_version": SCHEMA_VERSION, **results[name].summary}
        write_atomic(sub / "summary.json", lambda p, s=summary: p.write_text(json.dumps(s, indent=2)))
        found[name] = (effect, grid)
    return found


# --------------------------------------------------------------------------- a composed config
def stream_of(config: Mapping) -> StreamSpec:
    """The stream of a config; an error names the field as the command line overrides it
    (`stream.steps.build.wip_limit`)."""
    try:
        return StreamSpec.from_dict(config["stream"])
    except SpecError as e:
        path = "stream" if e.path in ("", "stream") else f"stream.{e.path}"
        raise SpecError(path, message=e.reason) from None


def scenarios_of(config: Mapping) -> dict[str, Scenario]:
    """The scenarios a config selected (`scenario=[a,b]`), in order."""
    loaded = config.get("scenario") or {}
    if not isinstance(loaded, Mapping):
        raise SpecError("scenario", "scenario files selected from configs/scenario", loaded)
    return {name: Scenario.from_dict(d or {}, name) for name, d in loaded.items()}


def settings_of(config: Mapping) -> Settings:
    """The simulation settings of a config (its `sim` node)."""
    sim = config["sim"]
    return Settings(horizon=sim["horizon"], warmup=sim["warmup"], replications=sim["replications"], seed=sim["seed"],
                    engine=sim["engine"], planning_interval=sim["planning_interval"], progress=sim.get("progress"),
                    stats=sim.get("stats", "full"), max_events=sim.get("max_events", MAX_EVENTS))


def run_config(config: Mapping, out: str | Path) -> Outcome:
    """Run the stream, scenarios and settings of a composed config (resolved, as plain mappings:
    `stream`, `scenario`, `sim`, `compare`, `report`); results and report into `out`. Every
    setting is checked before anything runs."""
    spec = stream_of(config)
    scenarios = scenarios_of(config)
    settings = settings_of(config)
    check_settings(spec, settings)
    report = config.get("report") or {}
    compare = config.get("compare") or {}
    comparing = bool(compare.get("enabled"))
    compare_names = None
    baseline = "baseline"
    if comparing:
        names = compare.get("alternatives")
        compare_names = list(names) if names is not None else list(scenarios)
        baseline = str(compare.get("baseline") or "baseline")
    sensitivity = _sensitivity(compare.get("sensitivity"))
    # no run.json here: the command line writes it last, with the config's digest (vssim/run/status.py)
    return _run_experiment(spec, scenarios, settings, Path(out), compare=comparing, compare_names=compare_names,
                           baseline=baseline, figures=bool(report.get("figures", True)),
                           event_log=bool(report.get("event_log", True)), title=report.get("title"),
                           question=report.get("question"), animate=bool(report.get("animate", False)),
                           sensitivity=sensitivity)


def _sensitivity(value) -> dict | None:
    """`compare.sensitivity`: null, or {productivity: [p0 in (0, 1]], ramp: [R >= 0]} (each a list)."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"productivity", "ramp"}:
        raise SpecError("compare.sensitivity", "null or {productivity: [p0, ...], ramp: [R, ...]}", value)
    out = {}
    for key, low, high in (("productivity", 0.0, 1.0), ("ramp", 0.0, None)):
        xs = value[key]
        ok = isinstance(xs, Sequence) and not isinstance(xs, str) and len(xs) > 0 and all(
            isinstance(x, int | float) and not isinstance(x, bool) and (x > low if key == "productivity" else x >= low)
            and (high is None or x <= high) for x in xs)
        if not ok:
            what = "a non-empty list of numbers in (0, 1]" if key == "productivity" else \
                "a non-empty list of times >= 0"
            raise SpecError(f"compare.sensitivity.{key}", what, xs)
        out[key] = [float(x) for x in xs]
    return out
