"""Stability (vssim/analysis/stability.py, docs/metrics.md "Stability"): an unstable system is
labelled so before the run (offered load) and after it (the trend test on the items in the
system, backlog included), in summary.json, on the terminal, at the top of the report and in a
comparison; closed, finite and loss systems get `stable: null` with the reason; the trend test's
false-alarm rate at rho = 0.95 stays below its stated rate (a binomial bound over hundreds of
seeds) and it sees overloads, including those the offered load cannot see.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

import vssim
from vssim.analysis import stability
from vssim.analysis.compare import compare
from vssim.engines import registry
from vssim.model.plan import Plan
from vssim.model.settings import Settings
from vssim.model.spec import StreamSpec
from vssim.records import RecordsBuilder
from vssim.report.markdown import write_comparison_report, write_report
from vssim.run.experiment import run_experiment
from vssim.scenarios.scenario import Scenario

DEFAULTS = {"horizon": 2000.0, "warmup": 200.0}
"""The default settings of `sim` (configs/config.yaml), with its 10 replications."""
SHORTER = [{"horizon": 1000.0, "warmup": 100.0}, {"horizon": 500.0, "warmup": 50.0}]
FAST = {"engine": "fast", "progress": False}


def line(rate: float, works=(1.0,), *, pools=None, **release) -> StreamSpec:
    """Poisson arrivals through single-person steps with exponential work of these means."""
    steps = {f"s{i}": {"pool": f"p{i}", "work": {"dist": "exponential", "mean": w}} for i, w in enumerate(works)}
    d = {"name": "line", "arrivals": {"process": "poisson", "rate": rate},
         "pools": pools or {f"p{i}": 1 for i in range(len(works))}, "steps": steps}
    if release:
        d["release"] = release
    return StreamSpec.from_dict(d)


def devs(rate: float) -> StreamSpec:
    """One step worked by the pool `devs` (one person, work of mean 1): offered load = rate."""
    return StreamSpec.from_dict({"name": "devs", "arrivals": {"process": "poisson", "rate": rate},
                                 "pools": {"devs": 1},
                                 "steps": {"build": {"pool": "devs", "work": {"dist": "exponential", "mean": 1.0}}}})


def trend_verdicts(spec: StreamSpec, horizon: float, warmup: float, runs: int, replications: int = 10) -> np.ndarray:
    """The trend test's verdict (growing?) of `runs` runs on seeds 0, 1, ...: the fast engine's
    records, their censuses, the test, as `vssim.simulate` does them (without its summary)."""
    plan = Plan.of(spec)
    out = []
    for seed in range(runs):
        settings = Settings(horizon=horizon, warmup=warmup, replications=replications, seed=seed, **FAST)
        engine = registry.choose(plan, settings)
        censuses = [stability.census_of(engine.run(plan, settings, r, RecordsBuilder(
            plan, replication=r, seed=seed, warmup=warmup), None)) for r in range(replications)]
        out.append(stability.trend(censuses)["growing"])
    return np.array(out, dtype=bool)


def upper_bound(k: int, n: int) -> float:
    """The one-sided 95 % Clopper-Pearson upper bound of a share of k in n."""
    return 1.0 if k == n else float(stats.beta.ppf(0.95, k + 1, n - k))


def lower_bound(k: int, n: int) -> float:
    """The one-sided 95 % Clopper-Pearson lower bound of a share of k in n."""
    return 0.0 if k == 0 else float(stats.beta.ppf(0.05, k, n - k + 1))


# --------------------------------------------------------------------------- the label
@pytest.mark.parametrize("stats_", ["full", "streaming"])
def test_an_overloaded_stream_is_labelled_unstable(tmp_path, stats_):
    result = vssim.simulate(devs(1.12), replications=10, seed=1, stats=stats_, **DEFAULTS, **FAST)
    result.save(tmp_path, event_log=False)
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["stable"] is False
    s = saved["stability"]
    assert (s["cause"], s["pool"]) == ("offered_load", "devs")
    assert s["load"] == pytest.approx(1.12)
    assert "devs offered load 1.12 >= 1" in s["reason"]
    assert s["trend"]["growing"] is True                  # and the run's own evidence agrees
    assert stability.headline(saved) == ("pool devs offered load 1.12 >= 1; lead time and WIP grow with the "
                                         "horizon and are not steady-state figures")


def test_a_stable_stream_is_labelled_stable():
    s = vssim.simulate(devs(0.75), replications=10, seed=1, **DEFAULTS, **FAST).summary
    assert s["stable"] is True
    assert s["stability"]["cause"] is None
    assert s["stability"]["trend"]["growing"] is False
    assert stability.headline(s) is None


@pytest.mark.parametrize("engine", ["simpy", "fast"])
def test_streaming_statistics_give_the_same_verdict(engine):
    """The census of a streaming run (counted block by block) is the full records' census."""
    spec = line(1.1, (0.6, 1.0))
    kw = {"horizon": 600.0, "warmup": 60.0, "replications": 4, "seed": 2, "engine": engine, "progress": False}
    full = vssim.simulate(spec, **kw).summary
    streaming = vssim.simulate(spec, stats="streaming", **kw).summary
    assert full["stable"] is streaming["stable"] is False
    assert json.dumps(full["stability"]) == json.dumps(streaming["stability"])


CLOSED = {"process": "saturated"}
NULL_CASES = {
    "closed": ({"arrivals": CLOSED, "release": {"policy": "conwip", "conwip": 4}}, "closed stream"),
    "backlog": ({"arrivals": {"process": "backlog", "count": 30}}, "finite stream"),
    "trace": ({"arrivals": {"process": "trace", "times": [0.0, 1.0, 1.5, 4.0]}}, "finite stream"),
    "loss": ({"arrivals": {"process": "poisson", "rate": 1.5}, "release": {"backlog_limit": 5}}, "loss system"),
}


@pytest.mark.parametrize("case", list(NULL_CASES))
def test_closed_finite_and_loss_streams_are_null_with_the_reason(case):
    change, reason = NULL_CASES[case]
    d = {"name": case, "pools": {"p": 1}, "steps": {"s": {"pool": "p", "work": {"dist": "exponential", "mean": 1}}},
         **change}
    spec = StreamSpec.from_dict(d)
    horizon = None if spec.arrivals.finite else 300.0
    s = vssim.simulate(spec, horizon=horizon, warmup=0.0 if horizon is None else 30.0, replications=3,
                       progress=False).summary
    assert s["stable"] is None
    assert s["stability"]["reason"].startswith(reason)
    if case == "loss":                                    # an overloaded loss system: its load is still shown
        assert s["stability"]["load"] == pytest.approx(1.5)


def test_one_replication_gives_no_trend_test():
    stable = vssim.simulate(devs(0.75), replications=1, seed=1, **DEFAULTS, **FAST).summary
    assert stable["stable"] is None and "one replication" in stable["stability"]["reason"]
    assert stable["stability"]["trend"]["growing"] is None
    overloaded = vssim.simulate(devs(1.2), replications=1, seed=1, **DEFAULTS, **FAST).summary
    assert overloaded["stable"] is False                  # the offered load needs no replications


def test_a_load_at_exactly_one_is_unstable():
    spec = StreamSpec.from_dict({"name": "dd1", "arrivals": {"process": "deterministic", "rate": 0.5},
                                 "pools": {"p": 1}, "steps": {"s": {"pool": "p", "work": 2.0}}})
    s = vssim.simulate(spec, replications=2, **DEFAULTS, **FAST).summary
    assert s["stable"] is False and s["stability"]["load"] == pytest.approx(1.0)


def test_steps_with_several_pools_share_their_load():
    """Even shares put testers at 1.1; with the shared step's work on the devs, nobody is above 0.6."""
    def shared(rate: float) -> StreamSpec:
        return StreamSpec.from_dict({
            "name": "shared", "arrivals": {"process": "poisson", "rate": rate}, "pools": {"devs": 2, "testers": 1},
            "steps": {"build": {"pool": ["devs", "testers"], "work": {"dist": "exponential", "mean": 1.0}},
                      "test": {"pool": "testers", "work": {"dist": "exponential", "mean": 0.6}}}})

    spec = shared(1.0)
    assert spec.offered_load() == pytest.approx({"devs": 0.25, "testers": 1.1})
    pool, load = stability.peak_load(spec)
    assert (pool, load) == ("testers", pytest.approx(0.6))
    assert stability.peak_load(shared(2.0)) == ("testers", pytest.approx(1.2))   # devs full, testers over
    assert stability.peak_load(line(0.9, (0.5, 1.0))) == ("p1", pytest.approx(0.9))


def test_steps_with_several_pools_share_their_load_on_a_team_board_too():
    """The same shared step inside a team (one child per item): the team's pools, qualified, get the same
    least peak; even shares would call t/testers overloaded (1.1)."""
    spec = StreamSpec.from_dict({
        "name": "teamed", "arrivals": {"process": "poisson", "rate": 1.0},
        "teams": {"t": {"pools": {"devs": 2, "testers": 1},
                        "steps": {"build": {"pool": ["devs", "testers"], "work": {"dist": "exponential", "mean": 1.0}},
                                  "test": {"pool": "testers", "work": {"dist": "exponential", "mean": 0.6}}}}},
        "steps": {"split": {"split": {"into": "story", "teams": {"t": {"count": 1}}}}}})
    assert spec.offered_load() == pytest.approx({"t/devs": 0.25, "t/testers": 1.1})
    assert stability.peak_load(spec) == ("t/testers", pytest.approx(0.6))


# --------------------------------------------------------------------------- what the user sees
def test_the_terminal_warns_of_an_unstable_run(tmp_path, capsys):
    from vssim.cli.app import run

    config = {"stream": devs(1.12).to_dict(), "scenario": {},
              "sim": {**DEFAULTS, "replications": 3, "seed": 1, "engine": "fast", "planning_interval": None,
                      "progress": False, "stats": "full"},
              "compare": {"enabled": False}, "report": {"figures": False, "event_log": False}}
    run(config, tmp_path / "over")
    err = capsys.readouterr().err.splitlines()
    assert err == ["vssim: warning: UNSTABLE [baseline]: pool devs offered load 1.12 >= 1; lead time and WIP grow "
                   "with the horizon and are not steady-state figures"]
    config["stream"] = devs(0.75).to_dict()
    run(config, tmp_path / "fine")
    assert capsys.readouterr().err == ""


def test_the_report_says_so_under_its_title(tmp_path):
    result = vssim.simulate(devs(1.12), replications=3, seed=1, **DEFAULTS, **FAST)
    lines = write_report(result, tmp_path, figures=False, question="Is it fast?").read_text().splitlines()
    assert lines[0].startswith("# ")
    assert lines[2] == ("> **Warning: `baseline` is unstable.** Pool devs offered load 1.12 >= 1; lead time and WIP "
                        "grow with the horizon and are not steady-state figures.")
    assert lines[4].startswith("**Question.**")
    fine = vssim.simulate(devs(0.75), replications=3, seed=1, **DEFAULTS, **FAST)
    assert "unstable" not in write_report(fine, tmp_path, figures=False).read_text()


def test_a_comparison_marks_the_unstable_alternatives(tmp_path):
    scenarios = {"more_demand": Scenario.from_dict({"patch": {"arrivals": {"rate": 1.12}}}, "more_demand"),
                 "faster": Scenario.from_dict({"patch": {"steps": {"build": {"work": {"mean": 0.8}}}}}, "faster")}
    settings = Settings(horizon=1000.0, warmup=100.0, replications=3, seed=1, **FAST)
    outcome = run_experiment(devs(0.9), scenarios, settings, tmp_path, compare=True, figures=False, event_log=False)
    saved = json.loads((tmp_path / "comparison.json").read_text())
    assert saved["stable"] == {"baseline": True, "more_demand": False, "faster": True}
    report = outcome.report.read_text().splitlines()
    assert report[2].startswith("> **Warning: `more_demand` is unstable.** Pool devs offered load 1.12 >= 1")
    assert not any("`faster` is unstable" in x or "`baseline` is unstable" in x for x in report)
    answer = [x for x in report if x.startswith("- **more_demand**: p85")]
    assert answer and answer[0].endswith("**Unstable**: its figures grow with the horizon.")
    rows = [x for x in report if x.startswith("| more_demand")]
    assert rows and all(x.startswith("| more_demand **(unstable)** |") for x in rows)
    assert not any(x.startswith(("| faster **", "| baseline **")) for x in report)
    # a sweep's comparison reads the summaries back from disk: the same marks
    summaries = {name: json.loads((tmp_path / "scenarios" / name / "summary.json").read_text())
                 for name in ("baseline", "more_demand", "faster")}
    again = compare(summaries)
    assert again.to_dict()["stable"] == saved["stable"]
    (tmp_path / "sweep").mkdir()
    text = write_comparison_report(summaries, again, tmp_path / "sweep", figures=False).read_text()
    assert "> **Warning: `more_demand` is unstable.**" in text


# --------------------------------------------------------------------------- the trend test
RHO_095 = [("M/M/1", line(0.95)), ("line", line(0.95, (1.0, 1.0, 1.0)))]
"""rho = 0.95: M/M/1, and a balanced line of three such steps (its start-up transient is the longest)."""
FALSE_ALARM_CASES = [(name, spec, sim) for name, spec in RHO_095 for sim in [DEFAULTS, *SHORTER]
                     if not (name == "line" and sim["horizon"] < 1000)]
"""The defaults and shorter runs (docs/metrics.md gives the one left out: the balanced line over 500,
whose start-up outlasts the run)."""


def _false_alarms(runs: int) -> list[tuple[str, int, int]]:
    return [(f"{name} {sim['horizon']:g}/{sim['warmup']:g}", int(trend_verdicts(spec, **sim, runs=runs).sum()), runs)
            for name, spec, sim in FALSE_ALARM_CASES]


def test_the_trend_test_keeps_its_false_alarm_rate_at_rho_095():
    """Over 200 seeds per case: no case declares growth significantly more often than ALPHA (an
    exact binomial test at 1 %), and over all of them together the share declared growing is below
    ALPHA (its 95 % upper confidence bound)."""
    counts = _false_alarms(200)
    for name, k, n in counts:
        assert stats.binomtest(k, n, stability.ALPHA, alternative="greater").pvalue > 0.01, (name, k, n)
    k, n = sum(c[1] for c in counts), sum(c[2] for c in counts)
    assert upper_bound(k, n) < stability.ALPHA, counts


@pytest.mark.slow
def test_the_trend_test_keeps_its_false_alarm_rate_at_rho_095_in_every_case():
    """3000 seeds per case: in each, the 95 % upper confidence bound of the share is below ALPHA."""
    for name, k, n in _false_alarms(3000):
        assert upper_bound(k, n) < stability.ALPHA, (name, k, n)


POWER_CASES = [("M/M/1 1.2", line(1.2), DEFAULTS), ("line 1.2", line(1.2, (0.7, 1.0, 0.8)), DEFAULTS),
               ("CONWIP 1.2", line(1.2, policy="conwip", conwip=5), DEFAULTS)]


@pytest.mark.parametrize("case", POWER_CASES, ids=[c[0] for c in POWER_CASES])
def test_the_trend_test_sees_an_overload_of_20_percent(case):
    """Its power at rho = 1.2 is above 95 % (the lower confidence bound over 100 seeds); under CONWIP
    the WIP stays at the limit while the backlog, counted too, grows."""
    _name, spec, sim = case
    growing = trend_verdicts(spec, **sim, runs=100)
    assert lower_bound(int(growing.sum()), len(growing)) > 0.95


def test_the_trend_test_sees_an_overload_of_5_percent_more_often_than_by_chance():
    """At rho = 1.05 the overload is small against the noise of a 2000-long run: the trend alone
    sees it in about a third of the runs (the offered load sees it always)."""
    growing = trend_verdicts(line(1.05), **DEFAULTS, runs=100)
    assert lower_bound(int(growing.sum()), len(growing)) > 0.15


@pytest.mark.parametrize("spec", [line(1.05), line(1.2), line(1.2, policy="conwip", conwip=5)],
                         ids=["1.05", "1.2", "conwip"])
def test_overloads_are_declared_unstable(spec):
    for seed in range(3):
        s = vssim.simulate(spec, replications=10, seed=seed, **DEFAULTS, **FAST).summary
        assert s["stable"] is False and s["stability"]["cause"] == "offered_load"
    if spec.release.policy == "conwip":
        assert s["metrics"]["wip"]["mean"] <= 5 < s["metrics"]["backlog"]["mean"]


def test_the_run_shows_an_overload_the_offered_load_cannot_see():
    """One person works two steps of 0.8 each, switching at every item (0.4 a switch): offered load
    0.8 (switch costs are not in it), busy 1.2 per arrival interval. Only the trend test sees it."""
    spec = StreamSpec.from_dict({
        "name": "switching", "arrivals": {"process": "poisson", "rate": 0.5},
        "pools": {"dev": {"size": 1, "switch_cost": 0.4}},
        "steps": {"a": {"pool": "dev", "work": {"dist": "exponential", "mean": 0.8}},
                  "b": {"pool": "dev", "work": {"dist": "exponential", "mean": 0.8}}}})
    assert spec.offered_load() == pytest.approx({"dev": 0.8})
    s = vssim.simulate(spec, replications=10, seed=1, horizon=1000.0, warmup=100.0, progress=False).summary
    assert s["stable"] is False and s["stability"]["cause"] == "trend"
    assert "no pool's offered load reaches 1" in s["stability"]["reason"]
    assert stability.headline(s).startswith("the items in the system grew by ")
