"""vssim.report.animate: the Kanban board over time is drawn from the records, and the GIF is written."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vssim
from vssim.report import animate
from vssim.scenarios.scenario import load_scenario

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.fixture(scope="module")
def runs():
    """team_kanban under push (no limits: queues grow) and pull (column limits, CONWIP), 150 days."""
    spec = vssim.load_stream(CONFIGS / "stream" / "team_kanban.yaml")
    out = {}
    for name in ("push", "pull"):
        changed = load_scenario(CONFIGS / "scenario" / f"{name}.yaml").apply(spec)
        out[name] = vssim.simulate(changed, horizon=150, warmup=20, replications=1, seed=3, scenario=name,
                                   progress=False)
    return out


def expected_counts(result, t: float) -> dict[str, int]:
    """Cards per column at t, straight from the tidy tables: a column holds an item from entry to leaving."""
    v = result.visits
    leave = v["leave"].fillna(np.inf)
    inside = v[(v["enter"] <= t) & (t < leave)]
    items = result.items
    counts = {"backlog": int(((items["arrival"] <= t) & (t < items["commit"].fillna(np.inf))).sum())}
    for step in result.records[0].step_names:
        counts[step] = int((inside["step"] == step).sum())
    counts["done"] = int((items["done"] <= t).sum())
    return counts


@pytest.mark.parametrize("name", ["push", "pull"])
def test_board_matches_the_records(runs, name):
    result = runs[name]
    rec = result.records[0]
    times = np.linspace(0, rec.end, 37)
    counts = animate.board_counts(rec, times)
    for k, t in enumerate(times):
        want = expected_counts(result, t)
        assert {c: int(counts[c][k]) for c in want} == want, t


def test_pull_board_respects_its_wip_limits(runs):
    result = runs["pull"]
    rec = result.records[0]
    board = animate.Board.of(result)
    times = np.linspace(0, rec.end, 301)
    counts = animate.board_counts(rec, times)
    for j, step in enumerate(rec.step_names):
        limit = board.wip_limits[j]
        assert limit is not None
        assert counts[step].max() <= limit, step
    committed = sum(counts[s] for s in rec.step_names)
    assert committed.max() <= board.conwip


def cards_in(panel) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in panel.ax.patches:
        gid = p.get_gid() or ""
        if gid.startswith("card:"):
            column = gid.split(":")[1]
            out[column] = out.get(column, 0) + 1
    return out


def test_each_frame_shows_the_cards_of_the_records(runs):
    boards = [animate.Board.of(runs["push"], "push"), animate.Board.of(runs["pull"], "pull")]
    anim = animate.KanbanAnimation(boards, start=20, span=100, frames=25)
    assert anim.times[0] == 20 and anim.times[-1] == 120
    capacity = animate.CARDS_PER_ROW * animate.ROWS
    for k in (0, 7, 13, 24):
        anim.update(k)
        t = anim.times[k]
        for panel, name in zip(anim.panels, ("push", "pull"), strict=True):
            want = expected_counts(runs[name], t)
            drawn = cards_in(panel)
            for column in ["backlog", *panel.board.rec.step_names]:
                n = want[column]
                shown = n if n <= capacity else capacity - 1        # the last slot is a "+N" label
                assert drawn.get(column, 0) == shown, (name, column, t)
                assert panel.shown[column] == n
            assert panel.shown["done"] == want["done"]
    # the header of a limited column shows its count against its limit
    anim.update(13)
    pull = anim.panels[1]
    texts = [t.get_text() for t in pull.ax.texts]
    for j, step in enumerate(pull.board.rec.step_names):
        assert f"{step}\n{pull.shown[step]} / {pull.board.wip_limits[j]}" in texts


def test_gif_has_the_frames_asked_for(runs, tmp_path):
    path = animate.kanban_gif(runs["push"], tmp_path / "kanban.gif", frames=12, dpi=40)
    assert path == tmp_path / "kanban.gif" and path.stat().st_size > 0
    assert animate.frame_count(path) == 12
    assert path.stat().st_size < 2_000_000


def test_static_png_without_pillow(runs, tmp_path, monkeypatch):
    monkeypatch.setattr(animate, "_pillow_available", lambda: False)
    path = animate.kanban_gif(runs["pull"], tmp_path / "kanban.gif", frames=8, dpi=40)
    assert path == tmp_path / "kanban.png" and path.is_file()
    assert not (tmp_path / "kanban.gif").exists()


def test_finite_run_is_shown_whole(tmp_path):
    spec = vssim.load_stream(CONFIGS / "stream" / "penny_game.yaml")
    result = vssim.simulate(spec, horizon=None, warmup=0, replications=1, seed=1, progress=False)
    rec = result.records[0]
    assert animate.window(rec) == (0.0, 80.0)
    counts = animate.board_counts(rec, [0.0, 19.9, 20.0, 79.9, 80.0])
    assert list(counts["flip1"]) == [20, 20, 0, 0, 0]          # the batch of 20 leaves together at 20
    assert list(counts["flip2"]) == [0, 0, 20, 0, 0]
    assert list(counts["flip4"]) == [0, 0, 0, 20, 0]
    assert list(counts["done"]) == [0, 0, 0, 0, 20]


@pytest.mark.slow
def test_report_animate_writes_the_gif(tmp_path):
    from vssim.run.experiment import Settings, run_experiment

    spec = vssim.load_stream(CONFIGS / "stream" / "penny_game.yaml")
    outcome = run_experiment(spec, {}, Settings(horizon=None, warmup=0, replications=1, progress=False), tmp_path,
                             figures=False, event_log=False, animate=True)
    assert (tmp_path / "kanban.gif").is_file()
    assert "kanban.gif" in outcome.report.read_text()
