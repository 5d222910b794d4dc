"""Experiments, comparisons and their reports (issue 4; docs/experiments.md, docs/cli.md).

The Python API tests run `run_experiment` on streams and scenarios read from `configs/`; the
command-line tests start every `vssim` process of this module together, once, and read what
they wrote (as tests/test_cli.py does).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import cli_ok, run_cli_parallel
from hydra import compose as hydra_compose
from hydra import initialize_config_dir

import vssim
import vssim.cli.app
from vssim.analysis.compare import COLUMNS, METRICS
from vssim.engines.registry import run_records
from vssim.model.plan import Plan
from vssim.report.markdown import write_report
from vssim.run.collect import collect, find_runs
from vssim.run.experiment import Settings, run_experiment
from vssim.scenarios.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
PNG = b"\x89PNG\r\n\x1a\n"

RUN_FIGURES = (
    "dashboard.png",
    "vsm.png",
    "cycle_time.png",
    "throughput.png",
    "aging_wip.png",
    "lead_time.png",
    "cfd.png",
    "steps.png",
)
COMPARISON_FIGURES = ("comparison.png", "crn.png", "lead_times.png")
RUN_FILES = ("summary.json", "items.parquet", "steps.parquet", "events.csv", "report.md")


def stream(name: str) -> vssim.StreamSpec:
    return vssim.load_stream(CONFIGS / "stream" / f"{name}.yaml")


def scenarios(*names: str) -> dict:
    return {n: load_scenario(CONFIGS / "scenario" / f"{n}.yaml") for n in names}


def composed(*overrides: str):
    """The configuration `vssim OVERRIDES` would run (Hydra's compose API, no run)."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def headings(report: Path, level: int = 2) -> list[str]:
    mark = "#" * level + " "
    return [line[len(mark) :].strip() for line in report.read_text().splitlines() if line.startswith(mark)]


def assert_png(path: Path) -> None:
    assert path.is_file(), f"missing {path}"
    assert path.read_bytes()[:8] == PNG, path


def linked_images(report: Path) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.read_text())


# ============================================================================ push vs pull (Python API)
def test_push_vs_pull_acceptance(tmp_path):
    """Issue 4: pull shows a lower p85 lead time at a throughput within the CI of push's.

    The experiment's own settings (config.yaml's sim, not overridden by push_vs_pull): 10
    replications, horizon 2000, warmup 200, seed 1.
    """
    cfg = composed("experiment=push_vs_pull")
    assert cfg.stream.name == "team_kanban"
    assert list(cfg.scenario) == ["push", "pull"] and cfg.compare.baseline == "push"
    settings = Settings(
        horizon=cfg.sim.horizon,
        warmup=cfg.sim.warmup,
        replications=cfg.sim.replications,
        seed=cfg.sim.seed,
        progress=False,
    )
    assert (settings.horizon, settings.warmup, settings.replications, settings.seed) == (2000, 200, 10, 1)

    outcome = run_experiment(
        stream("team_kanban"),
        scenarios("push", "pull"),
        settings,
        tmp_path,
        compare=True,
        baseline="push",
        figures=False,
        event_log=False,
    )
    t = outcome.comparison.table.set_index(["scenario", "metric"])
    p85 = t.loc[("pull", "lead_time_p85")]
    # the paired 95 % CI of pull − push (per-replication p85, common random numbers) lies below 0
    assert p85["replications"] == 10
    assert p85["diff_hi"] < 0 and p85["significant"] and p85["better"]
    # and so does the pooled p85 of the two summaries
    push, pull = outcome.results["push"].summary["metrics"], outcome.results["pull"].summary["metrics"]
    assert pull["lead_time"]["p85"] < push["lead_time"]["p85"]
    # pull's mean throughput lies within push's 95 % CI: the same demand is served
    lo, hi = push["throughput"]["ci95"]
    assert lo <= pull["throughput"]["mean"] <= hi
    assert not t.loc[("pull", "throughput"), "significant"]


# ============================================================================ a comparison's outputs
@pytest.fixture(scope="module")
def comparison_dir(tmp_path_factory):
    """push_vs_pull on a short horizon, every output written."""
    out = tmp_path_factory.mktemp("push_vs_pull")
    settings = Settings(horizon=400, warmup=50, replications=3, seed=1, progress=False)
    outcome = run_experiment(
        stream("team_kanban"),
        scenarios("push", "pull"),
        settings,
        out,
        compare=True,
        baseline="push",
        title="Push versus pull",
        question="Does pull shorten lead time?",
    )
    return out, outcome


def test_comparison_writes_tables_summary_and_alternatives(comparison_dir):
    out, outcome = comparison_dir
    assert outcome.report == out / "report.md" and outcome.baseline == "push"

    table = pd.read_parquet(out / "comparison.parquet")
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 2 * len(METRICS)  # tidy: one row per scenario × metric
    assert not table.duplicated(["scenario", "metric"]).any()
    assert set(table["scenario"]) == {"push", "pull"} and set(table["metric"]) == set(METRICS)
    pd.testing.assert_frame_equal(table, outcome.comparison.table, check_dtype=False)

    data = json.loads((out / "comparison.json").read_text())
    assert data["baseline"] == "push" and data["metrics"] == list(METRICS)
    assert [(r["scenario"], r["metric"]) for r in data["rows"]] == list(
        zip(table["scenario"], table["metric"], strict=True)
    )

    summary = json.loads((out / "summary.json").read_text())
    assert summary["comparison"] == {
        "baseline": "push",
        "alternatives": ["push", "pull"],
        "table": "comparison.parquet",
    }
    base = json.loads((out / "scenarios" / "push" / "summary.json").read_text())
    assert {k: v for k, v in summary.items() if k != "comparison"} == base  # the baseline's own summary
    assert summary["scenario"] == "push" and summary["sim"]["seed"] == 1

    for name in ("push", "pull"):
        sub = out / "scenarios" / name
        for f in RUN_FILES:
            assert (sub / f).is_file(), sub / f
        for f in RUN_FIGURES:
            assert_png(sub / f)
        assert json.loads((sub / "summary.json").read_text())["scenario"] == name
        items = pd.read_parquet(sub / "items.parquet")
        assert set(items["replication"]) == {0, 1, 2}
        # the comparison's rows are the alternative's own per-replication values
        reps = json.loads((sub / "summary.json").read_text())["replications"]
        row = table[(table.scenario == name) & (table.metric == "lead_time")].iloc[0]
        assert row["mean"] == pytest.approx(np.mean([r["lead_time"] for r in reps]), rel=1e-12)


def test_comparison_report(comparison_dir):
    out, _ = comparison_dir
    report = out / "report.md"
    assert report.read_text().startswith("# Push versus pull")
    assert "**Question.** Does pull shorten lead time?" in report.read_text()
    sections = headings(report)
    wanted = ["Answer", "Comparison", "Bottleneck", "Each alternative"]
    assert [s for s in sections if s in wanted] == wanted  # all four, in this order
    for f in COMPARISON_FIGURES:
        assert_png(out / f)
        assert f in linked_images(report)
    for name in ("push", "pull"):
        assert f"(scenarios/{name}/report.md)" in report.read_text()
    answer = report.read_text().split("## Answer", 1)[1].split("## Comparison", 1)[0]
    assert "**pull**" in answer and "**push**" not in answer  # the baseline is not compared with itself
    assert "median variance reduction" in report.read_text()


# ============================================================================ common random numbers
@pytest.fixture(scope="module")
def accelerators(tmp_path_factory):
    """dvs_basic (the accelerators experiment's stream) under four of its scenarios, 6 replications."""
    cfg = composed("experiment=accelerators")
    names = ["baseline", "faster_feedback", "legacy_policies", "elevate_constraint"]
    assert cfg.stream.name == "dvs_basic" and set(names) <= set(cfg.scenario)
    out = tmp_path_factory.mktemp("accelerators")
    settings = Settings(horizon=1000, warmup=100, replications=6, seed=1, progress=False)
    outcome = run_experiment(
        stream("dvs_basic"), scenarios(*names), settings, out, compare=True, figures=False, event_log=False
    )
    return outcome, settings


def test_common_random_numbers_narrow_the_paired_intervals(accelerators):
    outcome, _ = accelerators
    c = outcome.comparison
    t = c.table
    others = t[t.scenario != "baseline"]
    assert len(others) == 3 * len(METRICS)
    # what the report's CRN figure shows: paired intervals narrower than independent-seed ones
    assert c.median_variance_reduction > 1
    assert np.median(others["variance_reduction"].dropna()) > 1
    ff = t[(t.scenario == "faster_feedback") & (t.metric == "lead_time")].iloc[0]
    paired, independent = ff["diff_hi"] - ff["diff_lo"], ff["indep_hi"] - ff["indep_lo"]
    assert 0 < paired < independent
    assert ff["variance_reduction"] == pytest.approx((independent / paired) ** 2)
    # both intervals are centred on the same difference of means
    assert (ff["diff_lo"] + ff["diff_hi"]) / 2 == pytest.approx((ff["indep_lo"] + ff["indep_hi"]) / 2)


def test_baseline_replication_is_the_same_alone_or_in_the_comparison(accelerators):
    """Same seed, same numbers: replication r of the baseline does not depend on its company."""
    outcome, settings = accelerators
    inside = outcome.results["baseline"]
    spec = stream("dvs_basic")
    r = 3
    alone = run_records("simpy", Plan.of(spec), horizon=settings.horizon, warmup=settings.warmup,
                        seed=settings.seed, replication=r)
    pd.testing.assert_frame_equal(
        alone.items_frame().reset_index(drop=True),
        inside.items[inside.items["replication"] == r].reset_index(drop=True),
    )
    # and the whole baseline run equals a plain simulate of the stream
    plain = vssim.simulate(
        spec,
        horizon=settings.horizon,
        warmup=settings.warmup,
        replications=settings.replications,
        seed=settings.seed,
        progress=False,
    )
    assert json.dumps(plain.summary["replications"]) == json.dumps(inside.summary["replications"])


# ============================================================================ a single run's report
def test_single_run_report(tmp_path):
    result = vssim.simulate(stream("dvs_basic"), horizon=300, warmup=30, replications=2, seed=1, progress=False)
    report = write_report(result, tmp_path)
    assert report == tmp_path / "report.md"
    sections = headings(report)
    for wanted in ("Flow metrics", "Bottleneck", "Value stream map"):
        assert wanted in sections, sections
    text = report.read_text()
    for label in (
        "Flow velocity",
        "Flow time",
        "Flow load",
        "Flow efficiency",
        "Flow predictability",
        "Flow distribution",
    ):
        assert f"| {label} |" in text  # the six flow metrics, the dashboard table
    assert "The constraint is the pool" in text
    for f in RUN_FIGURES:
        assert_png(tmp_path / f)
        assert f in linked_images(report)


# ============================================================================ the command line
SWEEP = ["-m", "scenario=baseline,legacy_policies", "sim.replications=2", "sim.horizon=300", "sim.warmup=30"]
CLI = {
    "push_vs_pull": ["experiment=push_vs_pull", "sim.replications=3", "sim.horizon=400", "sim.warmup=50"],
    "sweep": SWEEP,
    "composite": [
        "scenario=[limit_wip,smaller_batches]",
        "sim.replications=2",
        "sim.horizon=300",
        "sim.warmup=30",
        "report.figures=false",
        "report.event_log=false",
    ],
    "unknown_scenario": ["scenario=no_such_scenario"],
    "unknown_alternative": ["experiment=push_vs_pull", "compare.alternatives=[push,no_such_scenario]"],
    "bad_baseline": ["experiment=push_vs_pull", "compare.baseline=no_such_scenario"],
}


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> dict:
    """Run every command line above in parallel; name -> (CompletedProcess, output dir)."""
    base = tmp_path_factory.mktemp("cli")
    return run_cli_parallel(CLI, base, timeout=180)


ok = cli_ok


def test_cli_experiment_writes_the_comparison_report(cli, tmp_path):
    out = ok(cli, "push_vs_pull")
    proc = cli["push_vs_pull"][0]
    assert f"report: {out / 'report.md'}" in proc.stdout
    assert [
        s for s in headings(out / "report.md") if s in ("Answer", "Comparison", "Bottleneck", "Each alternative")
    ] == ["Answer", "Comparison", "Bottleneck", "Each alternative"]
    for f in COMPARISON_FIGURES:
        assert_png(out / f)
    for name in ("push", "pull"):
        assert (out / "scenarios" / name / "report.md").is_file()
    # the command line computes what the Python API computes
    settings = Settings(horizon=400, warmup=50, replications=3, seed=1, progress=False)
    api = run_experiment(
        stream("team_kanban"),
        scenarios("push", "pull"),
        settings,
        tmp_path,
        compare=True,
        baseline="push",
        figures=False,
        event_log=False,
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out / "comparison.parquet"), api.comparison.table, check_dtype=False)


def test_cli_sweep_collects_runs_and_compares_scenarios(cli, tmp_path):
    root = ok(cli, "sweep")
    runs = pd.read_parquet(root / "runs.parquet")
    assert len(runs) == 2 * 2  # one row per run × replication
    assert {"run", "stream", "scenario", "seed", "replication", "override.scenario"} <= set(runs.columns)
    assert set(METRICS) <= set(runs.columns)
    assert sorted(zip(runs["override.scenario"], runs["replication"], strict=True)) == [
        ("baseline", 0),
        ("baseline", 1),
        ("legacy_policies", 0),
        ("legacy_policies", 1),
    ]
    assert (runs["override.scenario"] == runs["scenario"]).all()
    assert runs["stream"].eq("dvs_basic").all() and runs["seed"].eq(1).all()

    report = root / "report.md"
    assert str(report) in cli["sweep"][0].stdout  # the callback says where the report is
    assert {"Answer", "Comparison", "Each alternative"} <= set(headings(report))
    for f in COMPARISON_FIGURES:
        assert_png(root / f)
    for link in re.findall(r"\]\((\d+/report\.md)\)", report.read_text()):
        assert (root / link).is_file()
    table = pd.read_parquet(root / "comparison.parquet")
    assert list(table.columns) == list(COLUMNS) and set(table["scenario"]) == {"baseline", "legacy_policies"}
    # the runs of separate jobs pair exactly as the runs of one comparison do (same seed, same numbers)
    settings = Settings(horizon=300, warmup=30, replications=2, seed=1, progress=False)
    api = run_experiment(
        stream("dvs_basic"),
        scenarios("baseline", "legacy_policies"),
        settings,
        tmp_path,
        compare=True,
        figures=False,
        event_log=False,
    )
    pd.testing.assert_frame_equal(table, api.comparison.table, check_dtype=False)


def test_cli_composite_scenario(cli):
    out = ok(cli, "composite")
    s = json.loads((out / "summary.json").read_text())
    assert s["scenario"] == "limit_wip+smaller_batches"
    assert not (out / "comparison.json").exists()
    assert "dvs_basic [limit_wip+smaller_batches]" in cli["composite"][0].stdout


def test_cli_unknown_scenario_file_is_hydras_error(cli):
    proc, out = cli["unknown_scenario"]
    assert proc.returncode != 0
    assert "no_such_scenario" in proc.stderr
    assert not (out / "summary.json").exists()


@pytest.mark.parametrize(
    "name, field", [("unknown_alternative", "compare.alternatives"), ("bad_baseline", "compare.baseline")]
)
def test_cli_comparison_errors_are_one_line(cli, name, field):
    proc, out = cli[name]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vssim: error: {field}:"), proc.stderr
    assert "no_such_scenario" in lines[0]
    assert not (out / "summary.json").exists()


# ============================================================================ `vssim` with no argument
@pytest.mark.parametrize(
    "argv, expected",
    [
        (["vssim"], ["vssim", f"experiment={vssim.cli.app.DEFAULT_EXPERIMENT}"]),
        (["vssim", "stream=mm1"], ["vssim", "stream=mm1"]),
        (["vssim", "-m", "scenario=baseline,limit_wip"], ["vssim", "-m", "scenario=baseline,limit_wip"]),
    ],
)
def test_main_runs_the_default_experiment_without_arguments(monkeypatch, argv, expected):
    seen = []
    monkeypatch.setattr(vssim.cli.app, "_main", lambda: seen.append(list(sys.argv)))
    monkeypatch.setattr(sys, "argv", list(argv))
    vssim.cli.app.main()
    assert seen == [expected]


def test_default_experiment_runs_a_comparison_and_says_where_the_report_is(tmp_path, capsys):
    """What `vssim` composes with no argument, cut down to two alternatives, run as the command runs it."""
    assert vssim.cli.app.DEFAULT_EXPERIMENT == "accelerators"
    assert (CONFIGS / "experiment" / "accelerators.yaml").is_file()
    cfg = composed(
        f"experiment={vssim.cli.app.DEFAULT_EXPERIMENT}",
        "compare.alternatives=[baseline,limit_wip]",
        "sim.replications=2",
        "sim.horizon=300",
        "sim.warmup=30",
        "report.figures=false",
        "report.event_log=false",
    )
    summary = vssim.cli.app.run(vssim.cli.app.resolved(cfg), tmp_path)
    printed = capsys.readouterr().out
    assert f"report: {tmp_path / 'report.md'}" in printed
    assert summary["scenario"] == "baseline"  # the baseline's summary
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["comparison"]["alternatives"] == ["baseline", "limit_wip"]
    assert "## Comparison" in (tmp_path / "report.md").read_text()


# ============================================================================ collect()
def fake_summary(scenario: str, values: list[float], seed: int = 1) -> dict:
    return {
        "stream": "s",
        "scenario": scenario,
        "time_unit": "day",
        "sim": {"seed": seed},
        "metrics": {},
        "replications": [
            {"replication": r, "seed": seed, "lead_time": v, "ci95": [0, 1], "types": {"a": 1}}
            for r, v in enumerate(values)
        ],
    }


def fake_run(d: Path, summary: dict, overrides: list[str] | None) -> None:
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps(summary))
    (d / "run.json").write_text(json.dumps({"status": "done"}))  # collect counts completed runs only
    if overrides is not None:
        (d / ".hydra").mkdir()
        (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))


def test_collect_one_row_per_run_and_replication(tmp_path):
    fake_run(tmp_path / "0", fake_summary("baseline", [1.0, 2.0]), ["scenario=baseline", "sim.seed=1"])
    fake_run(tmp_path / "1", fake_summary("limit_wip", [3.0, 4.0]), ["scenario=limit_wip", "+sim.seed=1"])
    assert find_runs(tmp_path) == [tmp_path / "0", tmp_path / "1"]
    table = collect(tmp_path)
    assert len(table) == 4
    assert list(zip(table["run"], table["replication"], strict=True)) == [("0", 0), ("0", 1), ("1", 0), ("1", 1)]
    assert list(table["override.scenario"]) == ["baseline", "baseline", "limit_wip", "limit_wip"]
    assert list(table["override.sim.seed"]) == ["1"] * 4  # "+" and "~" prefixes are not part of the key
    assert list(table["lead_time"]) == [1.0, 2.0, 3.0, 4.0]
    assert "ci95" not in table.columns and "types" not in table.columns  # only scalars per replication
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "runs.parquet"), table)


def test_collect_does_not_count_a_comparisons_summary_twice(tmp_path):
    fake_run(tmp_path / "0", fake_summary("baseline", [1.0, 2.0]), ["sim.seed=1"])
    cmp = tmp_path / "1"
    base = fake_summary("baseline", [5.0, 6.0], seed=2)
    fake_run(cmp, {**base, "comparison": {"baseline": "baseline"}}, ["experiment=x", "sim.seed=2"])
    (cmp / "comparison.json").write_text("{}")
    fake_run(cmp / "scenarios" / "baseline", base, None)
    fake_run(cmp / "scenarios" / "limit_wip", fake_summary("limit_wip", [7.0, 8.0], seed=2), None)

    assert find_runs(tmp_path) == [tmp_path / "0", cmp / "scenarios" / "baseline", cmp / "scenarios" / "limit_wip"]
    table = collect(tmp_path, write=False)
    assert not (tmp_path / "runs.parquet").exists()
    assert len(table) == 3 * 2
    assert list(table["lead_time"]) == [1.0, 2.0, 5.0, 6.0, 7.0, 8.0]  # the top-level 5, 6 only once
    assert list(table["run"].unique()) == ["0", "1/scenarios/baseline", "1/scenarios/limit_wip"]
    # the alternatives of a comparison carry the overrides of the comparison's run
    assert list(table["override.sim.seed"]) == ["1", "1", "2", "2", "2", "2"]
    assert list(table["override.experiment"].fillna("")) == ["", "", "x", "x", "x", "x"]


def test_collect_empty_directory(tmp_path):
    assert collect(tmp_path).empty
    assert not (tmp_path / "runs.parquet").exists()
