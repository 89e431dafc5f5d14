"""Charts for the morning pack and the dashboard, as inline SVG strings.

Pure: plain Python values in, markup out; no Django. Built with matplotlib's object API (never
pyplot, which keeps global figure state). Every chart is rendered under one lock with the style
reset to matplotlib's defaults plus ours, because rcParams are global: another thread, or a
user's matplotlibrc, must not change a chart, and ``svg.fonttype`` is only read from rcParams.

Text stays text (``svg.fonttype: none``): small files, selectable and searchable in a PDF. The
layout is measured with DejaVu Sans (shipped with matplotlib, so identical on every server) and
the SVG then names the system sans-serif stack, which is narrower, so labels never overflow.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from io import StringIO
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import matplotlib.style
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

logger = logging.getLogger(__name__)

ACCENT = "#1f3b63"
POSITIVE = "#1a7f37"
NEGATIVE = "#b42318"
WARNING = "#b54708"
UNAVAILABLE = "#98a2b3"
TEXT = "#1d2939"
MUTED = "#667085"
GRID = "#e4e7ec"
STATUS_COLOURS = {"ok": POSITIVE, "warning": WARNING, "breach": NEGATIVE}
MOVE_COLOURS = ("#9fb3cf", "#5a779e", ACCENT)  # 1D, 1W, 1M: one hue, darker = longer
MINUS = "\u2212"
HARD_DASH = (0, (4, 3))
WIDTH, HEIGHT = 7.0, 2.6  # inches; 7 in fits the 190 mm text width of an A4 page
FONT_STACK = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, '
    '"Liberation Sans", "DejaVu Sans", sans-serif'
)

_STYLE: dict[str, Any] = {
    "svg.fonttype": "none", "text.parse_math": False,  # a "$" in a label is text, not mathtext
    "font.family": "DejaVu Sans", "font.size": 9, "text.color": TEXT,
    "axes.titlesize": 10, "axes.titleweight": "bold", "axes.titlelocation": "left",
    "axes.titlepad": 8, "axes.titlecolor": TEXT, "axes.facecolor": "white",
    "axes.edgecolor": UNAVAILABLE, "axes.linewidth": 0.6, "axes.labelcolor": TEXT,
    "axes.spines.top": False, "axes.spines.right": False, "axes.axisbelow": True,
    "axes.unicode_minus": True, "axes.prop_cycle": matplotlib.cycler(color=[ACCENT]),
    "grid.color": GRID, "grid.linewidth": 0.6,
    "xtick.color": UNAVAILABLE, "ytick.color": UNAVAILABLE, "xtick.labelcolor": TEXT,
    "ytick.labelcolor": TEXT, "xtick.labelsize": 8.5, "ytick.labelsize": 8.5,
    "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.major.size": 3,
    "ytick.major.size": 3, "legend.frameon": False, "legend.fontsize": 8.5,
    "figure.facecolor": "white", "savefig.facecolor": "white", "savefig.transparent": False,
}  # fmt: skip

_LEGEND: dict[str, Any] = {"loc": "lower right", "bbox_to_anchor": (1.0, 1.0),
    "borderaxespad": 0.2, "handlelength": 1.4, "columnspacing": 1.2}  # fmt: skip

# rcParams are process-global: one chart at a time (a chart takes a few tens of milliseconds).
_LOCK = threading.Lock()


# --- Numbers ----------------------------------------------------------------------------------


def _num(value: object) -> float | None:
    """A finite float, or None for None, NaN, ±inf and anything that is not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ArithmeticError):
        return None
    return number if math.isfinite(number) else None


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    try:
        return dt.date.fromisoformat(value[:10]) if isinstance(value, str) else None
    except ValueError:
        return None


def format_value(value: float | None, *, percent: bool) -> str:
    """A bar's label: "+1.25%", "−0.40%", "+1,234.56", or "n/a"."""
    if value is None:
        return "n/a"
    text = (f"{value:,.2%}" if percent else f"{value:,.2f}").replace("-", MINUS)
    return f"+{text}" if value > 0 else text


def _thousands(value: float, _pos: object = None) -> str:
    return f"{value:,.0f}".replace("-", MINUS)


# --- SVG --------------------------------------------------------------------------------------

_ROOT = re.compile(r"<svg\b[^>]*>")
_SIZE = re.compile(r'\s(?:width|height)="[^"]*"')
_ID = re.compile(r'\sid="([^"]+)"')
_REF = re.compile(r'(?:url\(#|xlink:href="#|href="#)([^)"]+)')
_FAMILY = re.compile(r"font-family:[^;\"]*")


def _root_attrs(name: str, title: str) -> str:
    return (
        f' class="chart" data-chart={quoteattr(name)} role="img"'
        f' aria-label={quoteattr(title)} width="100%" preserveAspectRatio="xMidYMid meet"'
    )


def _finish(raw: str, name: str, title: str) -> str:
    """Make matplotlib's SVG document an inline, responsive, accessible fragment."""
    svg = raw[raw.index("<svg") :]  # no XML declaration, no DOCTYPE
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)  # RDF with external URIs
    root = _ROOT.search(svg)
    assert root is not None
    tag = _SIZE.sub("", root.group(0))[:-1] + _root_attrs(name, title) + ">"
    svg = svg[: root.start()] + tag + svg[root.end() :]
    # Several charts share one HTML page: keep only the ids something points at (clip paths,
    # tick markers; their hashes are salted with the chart name), drop "figure_1" and the like.
    refs = set(_REF.findall(svg))
    svg = _ID.sub(lambda m: m.group(0) if m.group(1) in refs else "", svg)
    # The default style block is not scoped by the browser when inlined: scope it to charts.
    svg = svg.replace('<style type="text/css">*{', '<style type="text/css">svg.chart *{', 1)
    svg = _FAMILY.sub(f"font-family: {FONT_STACK.replace(chr(34), chr(39))}", svg)
    return svg.strip()


def empty_chart(name: str, title: str, message: str = "No data") -> str:
    """A small valid SVG with the title and a message, for empty inputs."""
    font = FONT_STACK.replace('"', "'")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 504 64" version="1.1"'
        f"{_root_attrs(name, title)}>"
        '<rect width="504" height="64" fill="#ffffff"/>'
        f'<text x="6" y="16" style="font: bold 10px {font}; fill: {TEXT}">{escape(title)}</text>'
        f'<text x="252" y="44" text-anchor="middle" style="font: 9px {font}; fill: {MUTED}">'
        f"{escape(message)}</text></svg>"
    )


def _render(name: str, title: str, draw: Callable[[Any], None], height: float = HEIGHT) -> str:
    """One figure with one titled axes, drawn by ``draw(ax)``, as an inline SVG."""
    # The hash salt makes the output deterministic and the ids distinct between chart names.
    with _LOCK, matplotlib.style.context(["default", {**_STYLE, "svg.hashsalt": name}]):
        fig = Figure(figsize=(WIDTH, height), layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        ax.set_title(title)
        draw(ax)
        buf = StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return _finish(buf.getvalue(), name, title)


def _safe(name: str, title: str, build: Callable[[], str]) -> str:
    """Charts decorate a page: a chart that fails is replaced by a notice, never breaks it."""
    try:
        return build()
    except Exception:
        logger.exception("chart %s could not be drawn", name)
        return empty_chart(name, title, "Chart unavailable")


def _bar_height(rows: int) -> float:
    return min(9.0, max(2.0, 0.95 + 0.28 * rows))


def _legend_top_right(ax: Any, handles: list, labels: list[str]) -> None:
    """The legend on the title's line, right-aligned: it never hides a bar."""
    ax.legend(handles=handles, labels=labels, ncol=len(handles), **_LEGEND)


# --- Charts -----------------------------------------------------------------------------------


def nav_curve(
    points: list[tuple[dt.date | str, float | str | Decimal]], *, title: str = "NAV"
) -> str:
    """NAV over time; points without a date or a finite NAV are skipped."""
    return _safe("nav", title, lambda: _nav(points, title))


def _nav(points: list, title: str) -> str:
    series = sorted(
        (day, nav)
        for day, nav in ((_date(p[0]), _num(p[1])) for p in points or [])
        if day is not None and nav is not None
    )
    if not series:
        return empty_chart("nav", title)
    dates, navs = [d for d, _ in series], [v for _, v in series]

    def draw(ax: Any) -> None:
        ax.plot(dates, navs, color=ACCENT, linewidth=1.4)
        ax.plot(dates[-1:], navs[-1:], "o", color=ACCENT, markersize=3)  # today's NAV
        locator = AutoDateLocator(minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.grid(True, axis="y")
        ax.margins(x=0.01, y=0.12)

    return _render("nav", title, draw)


def signed_bars(
    rows: list[tuple[str, float]], *, title: str, percent: bool = True, name: str = "signed_bars"
) -> str:
    """Horizontal bars in the given order, green ≥ 0 and red < 0, the value at each bar's end;
    ``name`` is the chart's data-chart attribute."""
    return _safe(name, title, lambda: _signed_bars(name, rows, title=title, percent=percent))


def _signed_bars(name: str, rows: list, *, title: str, percent: bool) -> str:
    data = [(str(label), _num(value)) for label, value in rows or []]
    if not data:
        return empty_chart(name, title)
    values = [v for _, v in data if v is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or (0.01 if percent else 1.0)

    def draw(ax: Any) -> None:
        ys = range(len(data))
        for y, (_, v) in zip(ys, data, strict=True):
            if v is None:
                ax.text(span * 0.01, y, "n/a", va="center", ha="left", color=MUTED, fontsize=8.5)
                continue
            colour = POSITIVE if v >= 0 else NEGATIVE
            ax.barh(y, v, height=0.62, color=colour)
            pad = span * 0.01 * (1 if v >= 0 else -1)
            ax.text(v + pad, y, format_value(v, percent=percent), va="center",
                    ha="left" if v >= 0 else "right", color=colour, fontsize=8.5)  # fmt: skip
        ax.axvline(0, color=TEXT, linewidth=0.7)
        ax.set_yticks(list(ys), [label for label, _ in data])
        ax.set_ylim(len(data) - 0.5, -0.5)  # first row on top
        # Room for the value labels on both sides.
        ax.set_xlim(low - span * (0.22 if low < 0 else 0.02), high + span * 0.22)
        ax.xaxis.set_major_formatter(
            PercentFormatter(1.0) if percent else FuncFormatter(_thousands)
        )
        ax.grid(True, axis="x")
        ax.tick_params(axis="y", length=0)

    return _render(name, title, draw, _bar_height(len(data)))


def utilization_bars(
    rows: list[tuple[str, float | None, float, str]], *, title: str = "Limit utilization"
) -> str:
    """Utilization of each limit's hard level, coloured by status, soft level ticked."""
    return _safe("utilization", title, lambda: _utilization(rows, title))


def _utilization(rows: list, title: str) -> str:
    name = "utilization"
    data = [
        (str(label), _num(util), _num(soft), str(status or "").lower())
        for label, util, soft, status in rows or []
    ]
    if not data:
        return empty_chart(name, title)
    seen = [u for _, u, _, _ in data if u is not None] + [s for _, _, s, _ in data if s]
    high = max([1.0, *seen]) * 1.18  # room for the labels right of the bars
    low = min([0.0, *seen])

    def draw(ax: Any) -> None:
        for y, (_, util, soft, status) in enumerate(data):
            colour = STATUS_COLOURS.get(status, UNAVAILABLE)
            if util is None:
                ax.barh(y, high - low, left=low, height=0.62, color="#f2f4f7")
                ax.text(low + high * 0.01, y, "n/a", va="center", ha="left", color=MUTED)
            else:
                ax.barh(y, util, height=0.62, color=colour)
                text = f"{util:.1%}".replace("-", MINUS)
                ax.text(util + high * 0.01, y, text, va="center", ha="left", color=colour)
            if soft is not None:
                ax.vlines(soft, y - 0.42, y + 0.42, colors=TEXT, linewidth=1.6)
        ax.axvline(1.0, color=NEGATIVE, linewidth=1.0, linestyle=HARD_DASH)
        ax.set_yticks(range(len(data)), [label for label, _, _, _ in data])
        ax.set_ylim(len(data) - 0.5, -0.5)
        ax.set_xlim(low, high)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(True, axis="x")
        ax.tick_params(axis="y", length=0)
        soft_key = Line2D([], [], color=TEXT, marker="|", markersize=9, linestyle="none")
        hard_key = Line2D([], [], color=NEGATIVE, linewidth=1.0, linestyle=HARD_DASH)
        _legend_top_right(ax, [soft_key, hard_key], ["soft limit", "hard limit (100%)"])

    return _render(name, title, draw, _bar_height(len(data)))


def grouped_moves(
    rows: list[tuple[str, float | None, float | None, float | None]],
    *,
    title: str = "Market moves",
) -> str:
    """1D, 1W and 1M moves of each symbol as grouped vertical bars."""
    return _safe("moves", title, lambda: _moves(rows, title))


def _moves(rows: list, title: str) -> str:
    name = "moves"
    data = [(str(r[0]), [_num(v) for v in r[1:4]]) for r in rows or []]
    if not data:
        return empty_chart(name, title)
    width = 0.26
    crowded = len(data) > 12

    def draw(ax: Any) -> None:
        for i, colour in enumerate(MOVE_COLOURS):
            xs = [x + (i - 1) * width for x in range(len(data))]
            for x, (_, moves) in zip(xs, data, strict=True):
                if moves[i] is None:
                    ax.text(x, 0, "n/a", rotation=90, ha="center", va="bottom", color=MUTED,
                            fontsize=6)  # fmt: skip
                else:
                    ax.bar(x, moves[i], width=width * 0.92, color=colour)
        ax.axhline(0, color=TEXT, linewidth=0.7)
        ax.set_xticks(range(len(data)), [label for label, _ in data])
        if crowded:  # anchored rotation keeps the labels in place in any font
            ax.tick_params(axis="x", labelrotation=45)
            for label in ax.get_xticklabels():
                label.set(ha="right", rotation_mode="anchor")
        ax.set_xlim(-0.6, len(data) - 0.4)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(True, axis="y")
        ax.tick_params(axis="x", length=0)
        ax.margins(y=0.12)
        _legend_top_right(ax, [Patch(color=c) for c in MOVE_COLOURS], ["1D", "1W", "1M"])

    return _render(name, title, draw, HEIGHT + 0.4 if crowded else HEIGHT)


# --- Pages ------------------------------------------------------------------------------------


def _ratio(soft: object, hard: object) -> float | None:
    """soft / hard as a fraction of the hard limit; None without a positive hard limit."""
    soft_f, hard_f = _num(soft), _num(hard)
    return None if soft_f is None or hard_f is None or hard_f <= 0 else soft_f / hard_f


def _limit_rows(limits: list[Mapping] | None) -> list[tuple[str, float | None, float | None, str]]:
    return [
        (
            str(row.get("metric", "")),
            row.get("utilization"),
            _ratio(row.get("soft"), row.get("hard")),
            str(row.get("status", "")),
        )
        for row in limits or []
    ]


def pack_charts(pack: Mapping) -> dict[str, str]:
    """The morning pack's charts: "nav", "attribution", "utilization", "moves"."""
    header = pack.get("header") or {}
    attribution = pack.get("attribution") or {}
    risk = pack.get("risk") or {}
    period = attribution.get("period") or "MTD"
    return {
        "nav": nav_curve([(p.get("date"), p.get("nav")) for p in header.get("nav_curve") or []]),
        "attribution": signed_bars(
            [(r.get("key", ""), r.get("contribution")) for r in attribution.get("rows") or []],
            title=f"Contribution to TWR {period} by strategy",
            name="attribution",
        ),
        "utilization": utilization_bars(_limit_rows(risk.get("limits"))),
        "moves": grouped_moves([_move_row(m) for m in pack.get("market_moves") or []]),
    }


def _move_row(move: Mapping) -> tuple[str, object, object, object]:
    moves = move.get("moves") or {}
    return (str(move.get("symbol", "")), moves.get("1D"), moves.get("1W"), moves.get("1M"))


def dashboard_charts(risk: Mapping | None) -> dict[str, str]:
    """The dashboard's charts: "utilization" of the live limits."""
    return {"utilization": utilization_bars(_limit_rows((risk or {}).get("limits")))}
