"""A Kanban board over time, and the cumulative flow diagram drawing itself (issue 7).

A layer above the records: everything is computed from one replication's
`Records`; the engine knows nothing of it. Each frame shows, at one instant t,

- the board: a column for the backlog, one per step with its WIP limit in the header
  ("develop 4 / 5"; red when the column is full), and a done count. Each item in a column is a
  card coloured by its type: solid with a dark edge while someone works on it, pale while it
  waits (in the queue, a handoff or a dependency), solid with a white bar when it is done in
  the column and waits to be pulled by the next one (blocked by a WIP limit, a batch or a
  cadence). A column holds an item from the moment it enters to the moment it leaves
  (`visit_enter <= t < visit_leave`; docs/model.md, "Columns and WIP limits"), so the cards of a column are exactly the
  items counted against its WIP limit;
- below it, the cumulative flow diagram of the same window, drawn up to t.

    from vssim.report import animate
    animate.kanban_gif(result, "kanban.gif")                  # one run (replication 0)
    animate.animate_boards([animate.Board.of(push, "push"), animate.Board.of(pull, "pull")],
                           "push_vs_pull.gif", start=..., span=60)

GIFs are written with matplotlib's PillowWriter. Without Pillow a static PNG of four
snapshots is written instead (the returned path says which). Either is written atomically
(vssim.files.write_atomic): a run killed while writing leaves no truncated file.
`vssim ... report.animate=true` adds `kanban.gif` to a run's report.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import patches
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox, TransformedBbox

from vssim.files import write_atomic
from vssim.records import Records
from vssim.report.figures.flow import cfd_counts
from vssim.report.figures.style import OKABE_ITO

BACKLOG = "backlog"
DONE = "done"
STATES = ("working", "done_waiting", "waiting")
"""Order of the cards in a column, top to bottom: in progress, done and waiting to move, waiting."""
STATE_LABELS = {"working": "being worked on", "done_waiting": "done, waiting to be pulled",
                "waiting": "waiting (queue, handoff, dependency)"}
CARDS_PER_ROW = 3
ROWS = 10
"""A column shows at most CARDS_PER_ROW x ROWS cards; the rest are counted in a "+N" label."""


def _pillow_available() -> bool:
    try:
        import PIL  # noqa: F401
    except ImportError:
        return False
    from matplotlib import animation

    return animation.writers.is_available("pillow")


# ---------------------------------------------------------------------------- the data
@dataclass(frozen=True)
class Board:
    """One board to animate: a replication's records and the limits of its columns."""

    rec: Records
    label: str = ""
    wip_limits: tuple[int | None, ...] | None = None     # per step; None: no limits shown
    conwip: int | None = None
    time_unit: str = "day"

    @classmethod
    def of(cls, result, label: str | None = None, replication: int = 0) -> Board:
        """The board of replication `replication` of a SimResult, with its spec's WIP limits."""
        spec = result.spec
        rec = next((r for r in result.records if r.replication == replication), None)
        if rec is None:
            raise ValueError(f"no replication {replication} in this result "
                             f"(replications {[r.replication for r in result.records]})")
        limits = tuple(spec.steps[name].wip_limit for name in rec.step_names)
        conwip = spec.release.conwip if spec.release.policy == "conwip" else None
        if label is None:
            label = f"{result.summary.get('stream', spec.name)} [{result.summary.get('scenario', 'baseline')}]"
        return cls(rec, label, limits, conwip, spec.time_unit)

    @property
    def columns(self) -> list[str]:
        return [BACKLOG, *self.rec.step_names, DONE]


def board_at(rec: Records, t: float) -> dict[str, dict]:
    """The board at time t: per column, the items in it, their type and state.

    Returns {column: {"item": ids, "type": type codes, "state": state names}} for the backlog
    (arrived, not committed) and each step (entered, not left); and {"done": {"count": n}} for
    the items done by t. Cards within a column are ordered by state (STATES), then by entry.
    """
    out: dict[str, dict] = {}
    arrived = rec.arrival <= t
    commit = np.where(np.isnan(rec.commit), np.inf, rec.commit)
    waiting = np.flatnonzero(arrived & (t < commit))
    out[BACKLOG] = {"item": waiting, "type": rec.item_type[waiting],
                    "state": np.full(len(waiting), "waiting", dtype=object)}
    leave = np.where(np.isnan(rec.visit_leave), np.inf, rec.visit_leave)
    inside = (rec.visit_enter <= t) & (t < leave)
    start = np.where(np.isnan(rec.visit_start), np.inf, rec.visit_start)
    end = np.where(np.isnan(rec.visit_end), np.inf, rec.visit_end)
    for j, name in enumerate(rec.step_names):
        v = np.flatnonzero(inside & (rec.visit_step == j))
        state = np.where(end[v] <= t, "done_waiting", np.where(start[v] <= t, "working", "waiting")).astype(object)
        rank = np.array([STATES.index(s) for s in state], dtype=int)
        order = np.lexsort((rec.visit_enter[v], rank))
        v = v[order]
        items = rec.visit_item[v]
        out[name] = {"item": items, "type": rec.item_type[items], "state": state[order]}
    done = rec.done[~np.isnan(rec.done)]
    out[DONE] = {"count": int(np.count_nonzero(done <= t))}
    return out


def board_counts(rec: Records, times) -> dict[str, np.ndarray]:
    """Cards per column at each of `times` (the backlog, each step, and done by then)."""
    times = np.atleast_1d(np.asarray(times, dtype=float))
    out = {c: np.zeros(len(times), dtype=int) for c in [BACKLOG, *rec.step_names, DONE]}
    for k, t in enumerate(times):
        b = board_at(rec, t)
        for c in out:
            out[c][k] = b[c]["count"] if c == DONE else len(b[c]["item"])
    return out


def window(rec: Records, start: float | None = None, span: float | None = None) -> tuple[float, float]:
    """The stretch of time to animate: by default about eight mean lead times after the warmup,
    or the whole run when that is most of it (a finite run such as the penny game)."""
    lo = rec.warmup if start is None else float(start)
    if span is None:
        ok = ~np.isnan(rec.done)
        lead = float(np.mean(rec.done[ok] - rec.arrival[ok])) if ok.any() else rec.end
        span = max(8 * lead, 1e-9)
    hi = min(rec.end, lo + span)
    if start is None and hi - lo >= 0.8 * rec.end:
        lo, hi = 0.0, rec.end
    return lo, hi


def busiest_start(rec: Records, span: float, step: float | None = None) -> float:
    """The start of the `span`-long stretch after the warmup with the most WIP on average
    (committed, not done): where queues grow, for a board that makes the point."""
    step = step or span / 20
    grid = np.arange(rec.warmup, max(rec.warmup, rec.end - span) + step / 2, step)
    if len(grid) <= 1:
        return float(rec.warmup)
    commit = np.sort(rec.commit[~np.isnan(rec.commit)])
    done = np.sort(rec.done[~np.isnan(rec.done)])
    fine = np.arange(rec.warmup, rec.end, step / 4)
    wip = np.searchsorted(commit, fine, side="right") - np.searchsorted(done, fine, side="right")
    means = [wip[(fine >= g) & (fine < g + span)].mean() for g in grid]
    return float(grid[int(np.argmax(means))])


# ---------------------------------------------------------------------------- drawing
def _type_color(k: int) -> str:
    return OKABE_ITO[k % (len(OKABE_ITO) - 1)]      # not black: black is the edge of cards in progress


class _Panel:
    """The board and the CFD of one Board in a figure; `draw(t)` updates both to time t."""

    def __init__(self, fig: Figure, spec_board, spec_cfd, board: Board, lo: float, hi: float, legend: bool):
        self.board = board
        self.ax = fig.add_subplot(spec_board)
        self.cfd = fig.add_subplot(spec_cfd)
        self.lo, self.hi = lo, hi
        self.columns = board.columns
        self.artists: list = []
        self.shown: dict[str, int] = {}
        self._setup_board(legend)
        self._setup_cfd()

    # the board -------------------------------------------------------------
    def _setup_board(self, legend: bool) -> None:
        ax = self.ax
        n = len(self.columns)
        ax.set_xlim(0, n)
        ax.set_ylim(-0.02, 1.22)
        ax.set_axis_off()
        for i in range(n):
            ax.add_patch(patches.Rectangle((i + 0.03, 0), 0.94, 1.0, facecolor="#F4F4F4", edgecolor="#CCCCCC",
                                           linewidth=0.8))
        ax.set_title(self.board.label, fontsize=12, fontweight="bold", loc="left")
        if legend:
            rec = self.board.rec
            handles = [patches.Patch(facecolor=_type_color(k), label=name) for k, name in enumerate(rec.type_names)]
            handles += [patches.Patch(facecolor="#999999", edgecolor="black", linewidth=1.2,
                                      label=STATE_LABELS["working"]),
                        patches.Patch(facecolor="#999999", alpha=0.35, label=STATE_LABELS["waiting"]),
                        patches.Patch(facecolor="#999999", hatch="---", edgecolor="white",
                                      label=STATE_LABELS["done_waiting"])]
            self.legend_handles = handles

    def _header(self, i: int, name: str, count: int) -> str:
        b = self.board
        if name == BACKLOG:
            return f"backlog\n{count}"
        limit = b.wip_limits[i - 1] if b.wip_limits is not None else None
        return f"{name}\n{count} / {limit}" if limit is not None else f"{name}\n{count} (no limit)"

    def _draw_board(self, t: float) -> None:
        for a in self.artists:
            a.remove()
        self.artists = []
        ax = self.ax
        state = board_at(self.board.rec, t)
        w = 0.94 / CARDS_PER_ROW
        h = 0.96 / ROWS
        committed = 0
        for i, name in enumerate(self.columns):
            if name == DONE:
                n = state[DONE]["count"]
                self.shown[DONE] = n
                self.artists.append(ax.text(i + 0.5, 1.02, "done", ha="center", va="bottom", fontsize=10))
                self.artists.append(ax.text(i + 0.5, 0.5, f"{n - self.base_done}", ha="center", va="center",
                                            fontsize=20, fontweight="bold", color="#333333"))
                self.artists.append(ax.text(i + 0.5, 0.38, "since the start\nof the window", ha="center",
                                            va="top", fontsize=8, color="#555555"))
                continue
            col = state[name]
            count = len(col["item"])
            if name != BACKLOG:
                committed += count
            self.shown[name] = count
            full = False
            if name != BACKLOG and self.board.wip_limits is not None:
                limit = self.board.wip_limits[i - 1]
                full = limit is not None and count >= limit
            self.artists.append(ax.text(i + 0.5, 1.02, self._header(i, name, count), ha="center", va="bottom",
                                        fontsize=10, color="#C00000" if full else "black",
                                        fontweight="bold" if full else "normal"))
            capacity = CARDS_PER_ROW * ROWS
            visible = count if count <= capacity else capacity - 1
            for k in range(visible):
                r, c = divmod(k, CARDS_PER_ROW)
                x = i + 0.03 + c * w + 0.012
                y = 1.0 - (r + 1) * h + 0.01
                s = col["state"][k]
                color = _type_color(int(col["type"][k]))
                card = patches.Rectangle((x, y), w - 0.024, h - 0.02, facecolor=color,
                                         alpha=0.35 if s == "waiting" else 1.0,
                                         edgecolor="black" if s == "working" else "none",
                                         linewidth=1.2 if s == "working" else 0)
                card.set_gid(f"card:{name}:{int(col['item'][k])}")
                ax.add_patch(card)
                self.artists.append(card)
                if s == "done_waiting":
                    bar = patches.Rectangle((x + 0.1 * (w - 0.024), y + 0.4 * (h - 0.02)), 0.8 * (w - 0.024),
                                            0.2 * (h - 0.02), facecolor="white", edgecolor="none")
                    ax.add_patch(bar)
                    self.artists.append(bar)
            if count > visible:
                self.artists.append(ax.text(i + 0.97 - 0.012, 0.012, f"+{count - visible}", ha="right",
                                            va="bottom", fontsize=10, fontweight="bold", color="#333333"))
        if self.board.conwip is not None:
            self.artists.append(ax.text(len(self.columns) - 0.02, 1.21, f"CONWIP: {committed} / {self.board.conwip}"
                                        " committed", ha="right", va="top", fontsize=10,
                                        color="#C00000" if committed >= self.board.conwip else "black"))

    # the CFD -----------------------------------------------------------------
    def _setup_cfd(self) -> None:
        ax = self.cfd
        rec = self.board.rec
        t = np.linspace(self.lo, self.hi, 600)
        names, counts, base = cfd_counts(rec, t)
        self.base_done = int(np.count_nonzero(rec.done[~np.isnan(rec.done)] <= self.lo))
        colors = ["#BBBBBB", *[f"C{k}" for k in range(len(rec.step_names))]]
        self.visible = Bbox([[self.lo, 0.0], [self.lo, 1.0]])     # x from the window's start to now
        clip = TransformedBbox(self.visible, ax.get_xaxis_transform())
        drawn = []
        for k, name in enumerate(names):
            drawn.append(ax.fill_between(t, counts[k + 1], counts[k], step="post", color=colors[k], alpha=0.8,
                                         label=name, linewidth=0))
        drawn += ax.plot(t, counts[-1], color="black", linewidth=1.2, drawstyle="steps-post", label="done")
        for a in drawn:
            a.set_clip_box(clip)
        self.now = ax.axvline(self.lo, color="#C00000", linewidth=1)
        ax.set_xlim(self.lo, self.hi)
        top = max(1, int(counts[0].max()))
        ax.set_ylim(0, top * 1.05)
        ax.set_xlabel(f"time ({self.board.time_unit})")
        ax.set_ylabel("items (cumulative)")
        ax.set_title("cumulative flow", fontsize=10, loc="left")
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], loc="upper left", fontsize=8, ncol=2, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)

    def draw(self, t: float) -> None:
        self._draw_board(t)
        self.visible.x1 = max(t, self.lo)
        self.now.set_xdata([t, t])


class KanbanAnimation:
    """Boards side by side (each with its CFD below) over `frames` instants from lo to hi.

    `update(k)` draws frame k; `panels[p].shown` then holds the cards per column of panel p.
    """

    def __init__(self, boards: Sequence[Board], *, start: float | None = None, span: float | None = None,
                 frames: int = 100, title: str | None = None, width: float | None = None, height: float = 6.4):
        if not boards:
            raise ValueError("need at least one board to animate")
        if frames < 1:
            raise ValueError(f"frames: must be a positive integer, got {frames}")
        self.boards = list(boards)
        self.lo, self.hi = window(self.boards[0].rec, start, span)
        self.times = np.linspace(self.lo, self.hi, frames)
        ncols = len(self.boards)
        if width is None:
            width = 9.0 if ncols == 1 else min(6.5 * ncols, 16.0)
        self.fig = Figure(figsize=(width, height), layout="constrained")
        grid = self.fig.add_gridspec(2, ncols, height_ratios=[3, 1.6])
        self.panels = [_Panel(self.fig, grid[0, p], grid[1, p], b, self.lo, self.hi, legend=(p == 0))
                       for p, b in enumerate(self.boards)]
        self.fig.legend(handles=self.panels[0].legend_handles, loc="outside lower center",
                        ncol=min(6, len(self.panels[0].legend_handles)), fontsize=9, frameon=False)
        self.title = title
        self.time_unit = self.boards[0].time_unit
        self.suptitle = self.fig.suptitle("", fontsize=13)
        # lay the figure out once, on the busiest frame, then keep it: constrained layout on every
        # frame would double the drawing time and make the panels jitter
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        busiest = max(range(frames), key=lambda k: sum(len(x["item"]) for b in self.boards
                                                       for c, x in board_at(b.rec, self.times[k]).items()
                                                       if c != DONE)) if frames <= 400 else 0
        self.update(busiest)
        FigureCanvasAgg(self.fig).draw()
        self.fig.set_layout_engine(None)

    def update(self, k: int) -> list:
        t = float(self.times[k])
        for p in self.panels:
            p.draw(t)
        head = f"{self.title}: " if self.title else ""
        self.suptitle.set_text(f"{head}{self.time_unit} {t:,.1f}")
        return []

    def save(self, path, *, fps: int = 8, dpi: int = 80) -> Path:
        """Write the GIF (Pillow), or a PNG of four snapshots without Pillow; return the path written."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not _pillow_available():
            return self.snapshots(path.with_suffix(".png"), dpi=dpi)
        from matplotlib.animation import PillowWriter

        # matplotlib.animation's writer, fed frame by frame: FuncAnimation would draw each frame
        # twice more (draw_idle after each update); drawn at the dpi it is saved at (text layouts
        # are cached per dpi)
        self.fig.set_dpi(dpi)
        writer = PillowWriter(fps=fps)

        def write(tmp: Path) -> None:
            with writer.saving(self.fig, str(tmp), dpi):
                for k in range(len(self.times)):
                    self.update(k)
                    writer.grab_frame()

        write_atomic(path, write)
        return path

    def snapshots(self, path, *, count: int = 4, dpi: int = 80) -> Path:
        """The static fallback: the boards at `count` evenly spaced instants, one above the other."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        picks = np.linspace(0, len(self.times) - 1, count).round().astype(int)
        images = []
        for k in picks:
            self.update(int(k))
            canvas = FigureCanvasAgg(self.fig)
            self.fig.set_dpi(dpi)
            canvas.draw()
            images.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
        w, h = self.fig.get_size_inches()
        sheet = Figure(figsize=(w, h * count), dpi=dpi)
        for n, img in enumerate(images):
            ax = sheet.add_axes((0, 1 - (n + 1) / count, 1, 1 / count))
            ax.imshow(img)
            ax.set_axis_off()
        write_atomic(path, lambda tmp: sheet.savefig(tmp, dpi=dpi))
        return path


def animate_boards(boards: Sequence[Board], path, *, start: float | None = None, span: float | None = None,
                   frames: int = 100, fps: int = 8, dpi: int = 80, title: str | None = None) -> Path:
    """Animate one or more boards over the same window and write a GIF (PNG without Pillow)."""
    return KanbanAnimation(boards, start=start, span=span, frames=frames, title=title).save(path, fps=fps, dpi=dpi)


def kanban_gif(result, path, *, replication: int = 0, start: float | None = None, span: float | None = None,
               frames: int = 100, fps: int = 8, dpi: int = 80, title: str | None = None) -> Path:
    """The Kanban board and CFD of one replication of a SimResult, as a GIF (PNG without Pillow)."""
    board = Board.of(result, replication=replication)
    if frames > 1 and span is None and start is None and not result.spec.arrivals.finite:
        lo, hi = window(board.rec)
        start = lo
        span = hi - lo
    return animate_boards([board], path, start=start, span=span, frames=frames, fps=fps, dpi=dpi, title=title)


def frame_count(path) -> int:
    """Frames in a GIF (1 for a PNG)."""
    from PIL import Image

    with Image.open(path) as im:
        return int(getattr(im, "n_frames", 1))


__all__ = ["BACKLOG", "DONE", "STATES", "Board", "KanbanAnimation", "animate_boards", "board_at", "board_counts",
           "busiest_start", "frame_count", "kanban_gif", "window"]

