"""Charts as inline SVG, drawn on the server with matplotlib (no browser script, no CDN, no fonts fetched).

Each function takes plain series and returns an `<svg>` element as text. The object-oriented API is
used (no pyplot), so charts can be drawn in worker threads.
"""

from __future__ import annotations

import html
import io
import re

import matplotlib

matplotlib.use("svg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

matplotlib.rcParams.update({"svg.fonttype": "path", "font.size": 9, "axes.spines.top": False,
                            "axes.spines.right": False, "svg.hashsalt": "qaf-reporting"})

PALETTE = ["#1b6ca8", "#e07a1f", "#3a9a4f", "#c0392b", "#7d4fa0", "#8c6d31", "#d35d9e", "#5d6d7e"]
GRADE_COLOURS = {"outstanding": "#1e8449", "good": "#58b368", "requires-improvement": "#f0a202",
                 "inadequate": "#c0392b"}


def _svg(fig: Figure, title: str) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    # a title for screen readers, and a size that follows the page
    text = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r'<svg \1', text, count=1)
    return text.replace(">", f' role="img" aria-label="{html.escape(title)}" class="chart">', 1)


def _empty(ax: object, message: str = "no data for this period") -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#777")  # type: ignore[attr-defined]


def line_chart(title: str, months: list[str], series: dict[str, list[float | None]], ylabel: str) -> str:
    fig = Figure(figsize=(7.5, 3.2))
    ax = fig.add_subplot()
    for i, (name, values) in enumerate(series.items()):
        # months without a rate leave a gap in the line (NaN), and every month keeps its tick
        ys = [float("nan") if v is None else v for v in values]
        ax.plot(range(len(months)), ys, marker="o", markersize=3, linewidth=1.6, label=name,
                color=PALETTE[i % len(PALETTE)])
    ax.set_xticks(range(len(months)), months)
    if not series:
        _empty(ax)
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.tick_params(axis="x", labelrotation=45)
    ax.grid(axis="y", color="#ddd", linewidth=0.6)
    if series:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig, title)


def stacked_bars(title: str, months: list[str], stacks: dict[str, list[int]], colours: dict[str, str] | None = None,
                 ylabel: str = "audits") -> str:
    fig = Figure(figsize=(7.5, 3.0))
    ax = fig.add_subplot()
    bottom = [0] * len(months)
    for i, (name, values) in enumerate(stacks.items()):
        colour = (colours or {}).get(name, PALETTE[i % len(PALETTE)])
        ax.bar(months, values, bottom=bottom, label=name, color=colour, width=0.7)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if not any(bottom):
        _empty(ax)
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", labelrotation=45)
    ax.grid(axis="y", color="#ddd", linewidth=0.6)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig, title)


def grouped_bars(title: str, months: list[str], groups: dict[str, list[int]], ylabel: str) -> str:
    fig = Figure(figsize=(7.5, 3.0))
    ax = fig.add_subplot()
    width = 0.8 / max(len(groups), 1)
    for i, (name, values) in enumerate(groups.items()):
        xs = [j + (i - (len(groups) - 1) / 2) * width for j in range(len(months))]
        ax.bar(xs, values, width=width, label=name, color=PALETTE[i % len(PALETTE)])
    ax.set_xticks(range(len(months)), months, rotation=45)
    if not any(any(v) for v in groups.values()):
        _empty(ax)
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", color="#ddd", linewidth=0.6)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig, title)
