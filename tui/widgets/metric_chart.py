"""A line chart of metric histories: several runs and metrics, smoothing, log scale and zoom."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Input, Static
from textual_plotext import PlotextPlot

from mltui.store.series import (
    X_MODES,
    Reduced,
    Series,
    XMode,
    ema,
    reduce_series,
    sort_by_x,
)
from mltui.tui.present import axes
from mltui.tui.text import datetime_of, literal, one_line
from mltui.tui.widgets.plotext_fast import faster_plotext

#: Curve colours, told apart on dark and light backgrounds (the first five are Okabe-Ito's).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (86, 180, 233),
    (230, 159, 0),
    (0, 158, 115),
    (240, 228, 66),
    (204, 121, 167),
    (230, 75, 75),
    (160, 120, 220),
    (150, 210, 80),
    (0, 200, 200),
    (170, 110, 60),
    (250, 190, 212),
    (170, 170, 170),
)
#: Smoothing strengths `[` and `]` step through (TensorBoard's default is 0.6).
STRENGTHS = (0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
DEFAULT_STRENGTH = 0.6
X_MODE_NAMES = {"step": "step", "wall": "time (UTC)", "relative": "relative time"}
#: How much of the curve colour a raw curve keeps when the smoothed one is drawn over it.
FAINT = 0.35
#: How much of a curve colour stays on a light theme (the rest is black).
LIGHT_THEME_SHADE = 0.7
MARKER = "braille"
#: Braille dots per cell across: the reduction keeps this many buckets per column.
DOTS_ACROSS = 2


@dataclass(slots=True)
class ChartSeries:
    """One curve: a metric of a run. `label` is user data, always shown as literal text."""

    label: str
    series: Series
    #: Index into PALETTE (kept by the caller, so a run keeps its colour as curves come and go).
    color: int = 0
    run_id: str = ""
    key: str = ""
    #: A sample of the history (a tracking server's preview): a spike between two samples
    #: may be missing, so the chart says so until the whole history replaces it.
    sampled: bool = False


@dataclass(slots=True)
class _Curve:
    entry: ChartSeries
    raw: Reduced
    smooth: Reduced | None


def blend(rgb: tuple[int, int, int], background: Color, amount: float) -> tuple[int, int, int]:
    """`amount` of `rgb` over `background`."""
    r, g, b = rgb
    return (
        round(r * amount + background.r * (1 - amount)),
        round(g * amount + background.g * (1 - amount)),
        round(b * amount + background.b * (1 - amount)),
    )


class ZoomRangeScreen(ModalScreen[str | None]):
    """A one-line box for the x range to show; Enter applies, Escape cancels."""

    DEFAULT_CSS = """
    ZoomRangeScreen {
        align: center middle;
    }
    #zoom-box {
        width: 56;
        max-width: 95%;
        height: auto;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    #zoom-hint {
        color: $text-muted;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="chart.zoom_cancel")]

    def __init__(self, title: str, hint: str, value: str = "") -> None:
        super().__init__()
        self.box_title = title
        self.hint = hint
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="zoom-box"):
            yield Static(Text(self.box_title, style="bold"), id="zoom-title")
            yield Input(value=self.value, placeholder="from-to", id="zoom-input")
            yield Static(Text(self.hint), id="zoom-hint")

    @on(Input.Submitted, "#zoom-input")
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


# -- the chart ----------------------------------------------------------------------------------
class MetricChart(PlotextPlot):
    """Curves of metric histories, each reduced to the plot's width before drawing.

    Above the plot a status line (x axis, smoothing, scale, zoom); below it a legend with each
    curve's label in its colour, and what could not be drawn (NaN, infinities, values <= 0 on a
    log scale). Infinite values are marked ▲/▼ at the top/bottom edge where they were logged.
    """

    DEFAULT_CSS = """
    MetricChart {
        width: 1fr;
        height: 1fr;
        background: $surface;
    }
    """

    can_focus = True

    BINDINGS = [
        Binding("x", "cycle_x", "X axis", id="chart.x"),
        Binding("s", "toggle_smoothing", "Smooth", id="chart.smooth"),
        Binding(
            "left_square_bracket",
            "smoothing(-1)",
            "Less smoothing",
            id="chart.smooth_less",
            key_display="[",
            show=False,
        ),
        Binding(
            "right_square_bracket",
            "smoothing(1)",
            "More smoothing",
            id="chart.smooth_more",
            key_display="]",
            show=False,
        ),
        Binding("l", "toggle_log", "Log", id="chart.log"),
        Binding("z", "zoom_to", "Zoom", id="chart.zoom"),
        Binding(
            "plus,equals_sign",
            "zoom(0.5)",
            "Zoom in",
            id="chart.zoom_in",
            key_display="+",
            show=False,
        ),
        Binding("minus", "zoom(2)", "Zoom out", id="chart.zoom_out", key_display="-", show=False),
        Binding("0", "reset_zoom", "Whole range", id="chart.zoom_reset", show=False),
        Binding("left", "pan(-1)", "Pan left", id="chart.pan_left", show=False),
        Binding("right", "pan(1)", "Pan right", id="chart.pan_right", show=False),
    ]

    x_mode: reactive[XMode] = reactive("step")
    smoothing: reactive[bool] = reactive(False)
    strength: reactive[float] = reactive(DEFAULT_STRENGTH)
    log_y: reactive[bool] = reactive(False)
    #: The x range shown, in the current x axis' units; None shows everything.
    zoom: reactive[tuple[float, float] | None] = reactive(None)
    #: What the chart says while it has no curves.
    empty_message: reactive[str] = reactive("No data.")
    #: Whole histories are still being read (for sampled curves: they will be replaced).
    histories_loading: reactive[bool] = reactive(False)

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._series: list[ChartSeries] = []
        self._version = 0
        # Per (id of a Series, step or time): columns in x order. Per (id of a values column,
        # strength): that column (held so its id stays unique) and its moving average.
        self._columns: dict[tuple[int, str], tuple[Sequence[float], Sequence[float]]] = {}
        self._smoothed: dict[tuple[int, float], tuple[Sequence[float], Sequence[float]]] = {}
        self._reduced: dict[tuple[object, ...], Reduced] = {}
        self._render_key: tuple[object, ...] | None = None
        self._rendered = Text()
        #: What the last drawing showed, for tests and for the screen's status.
        self.drawn_points = 0
        self.drawn_x_range: tuple[float, float] | None = None
        #: The y range drawn, in log10 units on a log scale.
        self.drawn_y_range: tuple[float, float] | None = None

    # -- data ------------------------------------------------------------------------------------
    @property
    def series(self) -> list[ChartSeries]:
        return list(self._series)

    def set_series(self, series: Sequence[ChartSeries]) -> None:
        """Show these curves (in this order; the last drawn on top)."""
        self._series = list(series)
        alive = {id(s.series) for s in self._series}
        self._columns = {k: v for k, v in self._columns.items() if k[0] in alive}
        self._reduced = {k: v for k, v in self._reduced.items() if k[0] in alive}
        kept = {id(ys) for _, ys in self._columns.values()}
        self._smoothed = {k: v for k, v in self._smoothed.items() if k[0] in kept}
        self._version += 1
        self.refresh()

    def columns(
        self, entry: ChartSeries, mode: XMode | None = None
    ) -> tuple[Sequence[float], Sequence[float]]:
        """The curve's raw (x, y) columns in x order: steps, or timestamps in ms for time modes.

        Both time modes share the timestamp column; what they show is `_to_axis` of it, worked
        out on the few hundred points kept, never on the whole history.
        """
        axis = "step" if (mode or self.x_mode) == "step" else "time"
        key = (id(entry.series), axis)
        if key not in self._columns:
            series = entry.series
            xs = series.steps if axis == "step" else series.timestamps
            self._columns[key] = sort_by_x(xs, series.values)
        return self._columns[key]

    def _to_axis(self, entry: ChartSeries, mode: XMode) -> tuple[float, float]:
        """(offset, divisor) turning a raw x into the axis' unit: (x - offset) / divisor."""
        if mode == "step":
            return 0.0, 1.0
        if mode == "wall":
            return 0.0, 1000.0
        xs = self.columns(entry, mode)[0]
        return (float(xs[0]) if xs else 0.0), 1000.0

    def _smoothed_values(self, entry: ChartSeries, mode: XMode) -> Sequence[float]:
        # Keyed by the values column itself: when steps and times sort alike (the usual case)
        # both axes share the logged column, and its average is worked out once.
        ys = self.columns(entry, mode)[1]
        key = (id(ys), self.strength)
        if key not in self._smoothed:
            self._smoothed[key] = (ys, ema(ys, self.strength))
        return self._smoothed[key][1]

    def x_extent(self, mode: XMode | None = None) -> tuple[float, float] | None:
        """The smallest and largest x (in the axis' unit) over every curve; None if no points."""
        mode = mode or self.x_mode
        firsts, lasts = [], []
        for entry in self._series:
            xs = self.columns(entry, mode)[0]
            if xs:
                offset, divisor = self._to_axis(entry, mode)
                firsts.append((xs[0] - offset) / divisor)
                lasts.append((xs[-1] - offset) / divisor)
        return (float(min(firsts)), float(max(lasts))) if firsts else None

    # -- reactive changes ------------------------------------------------------------------------
    def watch_x_mode(self, old: XMode, new: XMode) -> None:
        if self.zoom is not None:
            self.zoom = self._same_points(self.zoom, old, new)

    def _same_points(
        self, zoom: tuple[float, float], old: XMode, new: XMode
    ) -> tuple[float, float] | None:
        """The range on the `new` axis holding the points `zoom` held on the `old` one.

        None (the whole range) when the two axes order some history differently.
        """
        lo, hi = zoom
        spans = []
        for entry in self._series:
            old_xs, old_ys = self.columns(entry, old)
            new_xs, new_ys = self.columns(entry, new)
            if old_ys is not new_ys:
                return None
            old_offset, old_divisor = self._to_axis(entry, old)
            new_offset, new_divisor = self._to_axis(entry, new)
            i = bisect_left(old_xs, lo * old_divisor + old_offset)
            j = bisect_right(old_xs, hi * old_divisor + old_offset)
            if j > i:
                spans.append(
                    (
                        (new_xs[i] - new_offset) / new_divisor,
                        (new_xs[j - 1] - new_offset) / new_divisor,
                    )
                )
        full = self.x_extent(new)
        if not spans or full is None:
            return None
        new_lo, new_hi = min(a for a, _ in spans), max(b for _, b in spans)
        if new_hi <= new_lo or (new_lo <= full[0] and new_hi >= full[1]):
            return None
        return (new_lo, new_hi)

    def watch_strength(self) -> None:
        self._smoothed = {k: v for k, v in self._smoothed.items() if k[1] == self.strength}

    # -- actions ---------------------------------------------------------------------------------
    def action_cycle_x(self) -> None:
        self.x_mode = X_MODES[(X_MODES.index(self.x_mode) + 1) % len(X_MODES)]

    def action_toggle_smoothing(self) -> None:
        self.smoothing = not self.smoothing

    def action_smoothing(self, delta: int) -> None:
        if not self.smoothing:
            self.smoothing = True
            return
        here = min(range(len(STRENGTHS)), key=lambda i: abs(STRENGTHS[i] - self.strength))
        self.strength = STRENGTHS[max(0, min(len(STRENGTHS) - 1, here + delta))]

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y

    def action_reset_zoom(self) -> None:
        self.zoom = None

    def _set_zoom(self, lo: float, hi: float) -> None:
        full = self.x_extent()
        if full is None:
            return
        lo, hi = max(lo, full[0]), min(hi, full[1])
        if lo <= full[0] and hi >= full[1]:
            self.zoom = None
        elif hi > lo:
            self.zoom = (lo, hi)

    def action_zoom(self, factor: float) -> None:
        full = self.x_extent()
        if full is None or full[1] <= full[0]:
            return
        lo, hi = self.zoom or full
        middle, half = (lo + hi) / 2, (hi - lo) / 2 * factor
        smallest = 1.0 if self.x_mode == "step" else 1e-3
        half = max(half, smallest / 2)
        # Zooming out near an edge keeps the edge and widens the other side.
        lo, hi = middle - half, middle + half
        if lo < full[0]:
            lo, hi = full[0], full[0] + 2 * half
        if hi > full[1]:
            lo, hi = full[1] - 2 * half, full[1]
        self._set_zoom(lo, hi)

    def action_pan(self, direction: int) -> None:
        full = self.x_extent()
        if self.zoom is None or full is None:
            return
        lo, hi = self.zoom
        shift = (hi - lo) / 4 * direction
        shift = max(full[0] - lo, min(full[1] - hi, shift))
        self.zoom = (lo + shift, hi + shift)

    def action_zoom_to(self) -> None:
        mode = self.x_mode
        full = self.x_extent()
        day = 0.0
        if mode == "wall" and full is not None:
            day = math.floor(full[0] / 86400) * 86400
        hints = {
            "step": "Steps, e.g. 100-500, 10k-20k, 300- (to the end)",
            "relative": "Time since each curve's first point: 90-300, 5m-1h, 2h-",
            "wall": "UTC clock times: 14:00-15:30 (first day), or a..b with YYYY-MM-DDTHH:MM",
        }
        current = ""
        if self.zoom is not None:
            current = "-".join(
                axes.axis_label(v, self.zoom[1] - self.zoom[0], self.x_mode) for v in self.zoom
            )

        def apply(text: str | None) -> None:
            if not text or not text.strip():
                return
            try:
                lo, hi = axes.parse_x_range(text, mode, day)
            except ValueError as error:
                self.notify(str(error), title="Zoom", severity="warning")
                return
            if full is None:
                return
            lo = full[0] if lo is None else lo
            hi = full[1] if hi is None else hi
            if hi <= lo or hi < full[0] or lo > full[1]:
                self.notify("No points in that range.", title="Zoom", severity="warning")
                return
            self._set_zoom(lo, hi)

        title = f"Show the {X_MODE_NAMES[mode]} range"
        self.app.push_screen(ZoomRangeScreen(title, hints[mode], current), apply)

    # -- drawing ---------------------------------------------------------------------------------
    def render(self) -> Text:
        width, height = self.size
        key = (
            width,
            height,
            self._version,
            self.x_mode,
            self.smoothing,
            self.strength,
            self.log_y,
            self.zoom,
            self.empty_message,
            self.histories_loading,
            self.app.theme,
            self.theme,
        )
        if key != self._render_key:
            self._rendered = self._draw(width, height)
            self._render_key = key
        return self._rendered

    def _draw(self, width: int, height: int) -> Text:
        status = self._status_line()
        if not self._series or width < 20 or height < 6:
            self.drawn_points, self.drawn_x_range, self.drawn_y_range = 0, None, None
            message = Text(self.empty_message if not self._series else "Too small to draw.")
            message.stylize("dim")
            status.truncate(width, overflow="ellipsis")
            return Text("\n", no_wrap=True).join([status, message])
        curves = self._reduce(max(8, (width - 12) * DOTS_ACROSS))
        legend = self._legend(curves, width, max(1, (height - 6) // 3))
        plot_height = height - 1 - len(legend)
        plot = self._plot_curves(curves, width, plot_height)
        status.truncate(width, overflow="ellipsis")
        return Text("\n", no_wrap=True).join([status, plot, *legend])

    def _window(self) -> tuple[float | None, float | None]:
        return self.zoom if self.zoom is not None else (None, None)

    def _reduce(self, buckets: int) -> list[_Curve]:
        mode = self.x_mode
        lo, hi = self._window()
        # Reductions are kept for the current view only: curves arriving one by one, a theme
        # change or a log toggle then reduce nothing already reduced.
        view = (mode, lo, hi, buckets)
        self._reduced = {k: v for k, v in self._reduced.items() if k[1] == view}
        curves = []
        for entry in self._series:
            raw = self._reduced_curve(entry, view, None)
            smooth = self._reduced_curve(entry, view, self.strength) if self.smoothing else None
            curves.append(_Curve(entry, raw, smooth))
        return curves

    def _reduced_curve(
        self,
        entry: ChartSeries,
        view: tuple[XMode, float | None, float | None, int],
        strength: float | None,
    ) -> Reduced:
        """One curve reduced for a view: its raw values, or its EMA at `strength`."""
        key = (id(entry.series), view, strength)
        if key not in self._reduced:
            mode, lo, hi, buckets = view
            xs, ys = self.columns(entry, mode)
            if strength is not None:
                ys = self._smoothed_values(entry, mode)
            offset, divisor = self._to_axis(entry, mode)
            raw_lo = None if lo is None else lo * divisor + offset
            raw_hi = None if hi is None else hi * divisor + offset
            reduced = reduce_series(xs, ys, buckets, raw_lo, raw_hi, presorted=True)
            self._reduced[key] = _in_axis_units(reduced, offset, divisor)
        return self._reduced[key]

    def _status_line(self) -> Text:
        """The view's settings, after what is still a sample (a tracking server's preview)."""
        sampled = sum(s.sampled for s in self._series)
        if sampled:
            # Said first, so a narrow chart cuts the view settings rather than this.
            what = "full histories loading" if self.histories_loading else "full histories not read"
            note = f"preview: {sampled} of {len(self._series)} curves sampled, {what}"
            line = Text(no_wrap=True, overflow="ellipsis").append(note, style="bold yellow")
            line.append(" · ", style="dim").append_text(self._view_line())
            return line
        return self._view_line()

    def _view_line(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        keys = {s.key for s in self._series if s.key}
        if len(keys) == 1:
            line.append_text(literal(one_line(next(iter(keys)), 60), style="bold"))
            line.append(" · ", style="dim")
        line.append(f"x: {X_MODE_NAMES[self.x_mode]}")
        if self.x_mode == "wall" and self._series:
            start = self.zoom[0] if self.zoom is not None else (self.x_extent() or (None,))[0]
            if start is not None:
                when = datetime_of(start * 1000, UTC)
                line.append(" invalid date" if when is None else when.strftime(" %Y-%m-%d"))
        line.append(" · ", style="dim")
        line.append(f"smoothing {self.strength:g}" if self.smoothing else "raw")
        line.append(" · ", style="dim")
        line.append("log y" if self.log_y else "linear y")
        if self.zoom is not None:
            lo, hi = self.zoom
            line.append(" · ", style="dim")
            lo_label, hi_label = (axes.axis_label(v, hi - lo, self.x_mode) for v in (lo, hi))
            line.append(f"zoom {lo_label} – {hi_label}", style="bold")
        return line

    def _legend(self, curves: list[_Curve], width: int, rows: int) -> list[Text]:
        entries: list[Text] = []
        for curve in curves:
            entry = Text(no_wrap=True)
            color = "rgb({},{},{})".format(*self.curve_color(curve.entry))
            entry.append("━━ ", style=color)
            entry.append_text(literal(one_line(curve.entry.label, 48)))
            notes = self._notes(curve.raw)
            if curve.entry.sampled:
                notes = ", ".join(filter(None, ("sampled", notes)))
            if notes:
                entry.append(f" ({notes})", style="yellow")
            entries.append(entry)
        lines: list[Text] = []
        line = Text(no_wrap=True, overflow="ellipsis")
        for i, entry in enumerate(entries):
            if line.cell_len and line.cell_len + 3 + entry.cell_len > width:
                if len(lines) == rows - 1:
                    line.append(f"   +{len(entries) - i} more", style="dim")
                    break
                lines.append(line)
                line = Text(no_wrap=True, overflow="ellipsis")
            if line.cell_len:
                line.append("   ")
            line.append_text(entry)
        lines.append(line)
        for text in lines:
            text.truncate(width, overflow="ellipsis")
        return lines

    def _notes(self, reduced: Reduced) -> str:
        notes = []
        if reduced.nan:
            notes.append(f"NaN×{reduced.nan}")
        if reduced.pos_inf:
            notes.append(f"+inf×{reduced.pos_inf} ▲")
        if reduced.neg_inf:
            notes.append(f"-inf×{reduced.neg_inf} ▼")
        if self.log_y and any(y <= 0 for y in reduced.ys):
            notes.append("values ≤ 0 hidden")
        if not reduced.points:
            notes.append("no points here")
        return ", ".join(notes)

    def curve_color(self, entry: ChartSeries) -> tuple[int, int, int]:
        """The entry's palette colour, darkened on light themes so it stands out."""
        rgb = PALETTE[entry.color % len(PALETTE)]
        if self.app.current_theme.dark:
            return rgb
        return blend(rgb, Color(0, 0, 0), LIGHT_THEME_SHADE)

    def _canvas_color(self) -> Color:
        try:
            return Color.parse(self.app.theme_variables.get("surface", "black"))
        except Exception:  # a theme without a parsable surface colour
            return Color(0, 0, 0)

    def _plot_curves(self, curves: list[_Curve], width: int, height: int) -> Text:
        lo, hi = self._window()
        # Only points inside the x window decide the y range (reduction adds one either side).
        y_values: list[float] = []
        for curve in curves:
            for reduced in (curve.raw, curve.smooth):
                if reduced is None:
                    continue
                inside = (
                    y
                    for x, y in zip(reduced.xs, reduced.ys, strict=True)
                    if (lo is None or x >= lo) and (hi is None or x <= hi)
                )
                y_values.extend(inside)
        if self.log_y:
            y_values = [math.log10(y) for y in y_values if y > 0]
        x_range = (lo, hi) if lo is not None and hi is not None else self.x_extent()
        if x_range is None or not y_values:
            return Text("Nothing to draw in this range.", style="dim")
        x_lo, x_hi = x_range
        if x_hi <= x_lo:
            x_lo, x_hi = x_lo - 1, x_hi + 1
        y_lo, y_hi = min(y_values), max(y_values)
        # A flat curve gets a band around it rather than a zero-height range.
        pad = (y_hi - y_lo) * 0.05 if y_hi > y_lo else abs(y_lo) * 0.1 or 1.0
        y_lo, y_hi = y_lo - pad, y_hi + pad

        canvas_rows = max(height - 3, 1)
        y_ticks, y_labels = axes.y_ticks(y_lo, y_hi, max(2, round(canvas_rows / 2.5)), self.log_y)
        label_width = max((len(s) for s in y_labels), default=1)
        canvas_width = max(width - label_width - 2, 1)
        x_ticks, x_labels = axes.x_ticks(x_lo, x_hi, max(2, canvas_width // 14), self.x_mode)

        plt = self.plt
        plt.clear_figure()
        plt.plotsize(width, height)
        plt._set_size(width, height)
        plt.theme(self._get_plotext_theme_name(self.app.theme))
        plt.xlim(x_lo, x_hi)
        plt.ylim(y_lo, y_hi)
        plt.xticks(x_ticks, x_labels)
        plt.yticks(y_ticks, y_labels)

        background = self._canvas_color()
        points = 0
        layers: list[tuple[Reduced, tuple[int, int, int]]] = []
        for curve in curves:
            rgb = self.curve_color(curve.entry)
            if curve.smooth is not None:
                layers.append((curve.raw, blend(rgb, background, FAINT)))
        for curve in curves:
            rgb = self.curve_color(curve.entry)
            layers.append((curve.smooth if curve.smooth is not None else curve.raw, rgb))
        for reduced, rgb in layers:
            xs, ys = reduced.xs, reduced.ys
            if self.log_y:
                kept = [(x, math.log10(y)) for x, y in zip(xs, ys, strict=True) if y > 0]
                xs, ys = [p[0] for p in kept], [p[1] for p in kept]
            if len(xs) == 1:
                # A lone point would be a single braille dot: hard to find.
                plt.scatter(xs, ys, marker="●", color=rgb)
            elif xs:
                plt.plot(xs, ys, marker=MARKER, color=rgb)
            points += len(xs)
        for curve in curves:
            rgb = self.curve_color(curve.entry)
            for where, y, marker in (
                (curve.raw.pos_inf_xs, y_hi, "▲"),
                (curve.raw.neg_inf_xs, y_lo, "▼"),
            ):
                if where:
                    plt.scatter(where, [y] * len(where), marker=marker, color=rgb)
        self.drawn_points = points
        self.drawn_x_range = (x_lo, x_hi)
        self.drawn_y_range = (y_lo, y_hi)
        with faster_plotext():
            built = plt.build()
        return Text.from_ansi(built.rstrip("\n"), no_wrap=True)


def _in_axis_units(reduced: Reduced, offset: float, divisor: float) -> Reduced:
    if offset or divisor != 1.0:
        for xs in (reduced.xs, reduced.pos_inf_xs, reduced.neg_inf_xs):
            xs[:] = [(x - offset) / divisor for x in xs]
    return reduced
