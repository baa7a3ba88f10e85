"""The Board digest as HTML (jinja2, charts by matplotlib as embedded PNG) and as PDF (WeasyPrint)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from qaf_shared.vocabulary import AreaStatus

STATUS_LABELS = {
    AreaStatus.DRIFTING.value: "Drifting",
    AreaStatus.AT_RISK.value: "At risk",
    AreaStatus.ON_TRACK.value: "On track",
    AreaStatus.NO_EVIDENCE.value: "No evidence",
}

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("qaf_actions", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
)


def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, loaded on the first chart (it is large)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


@dataclass
class ChartSeries:
    title: str
    unit: str  # "%" or "a month"
    points: list[tuple[str, float]]
    baseline: float | None
    tolerated: float | None
    target: float | None


@dataclass
class DigestView:
    digest_id: str
    period: str
    board_date: str
    as_of: str
    plan_version: int
    areas: list[dict[str, Any]]
    counts: dict[str, int]
    raised: list[dict[str, Any]]
    cleared: list[dict[str, Any]]
    previous_as_of: str | None
    ops: dict[str, Any]
    year_start: str
    target_low: int
    target_high: int
    pro_rata_low: int
    pro_rata_high: int
    charts: list[ChartSeries] = field(default_factory=list)


def chart_png(series: ChartSeries) -> str:
    """A small line chart of an indicator against its baseline, tolerated level and target (base64 PNG)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 2.4), dpi=110)
    try:
        xs = [p[0] for p in series.points]
        ys = [p[1] for p in series.points]
        ax.plot(xs, ys, marker="o", color="#1f4e79", label="figure")
        if series.baseline is not None:
            ax.axhline(series.baseline, color="#555", linestyle="--", linewidth=1, label="baseline")
        if series.tolerated is not None:
            ax.axhline(series.tolerated, color="#e74c3c", linestyle=":", linewidth=1, label="tolerated")
        if series.target is not None:
            ax.axhline(series.target, color="#27ae60", linestyle="-.", linewidth=1, label="target")
        ax.set_ylabel(series.unit)
        ax.tick_params(axis="x", labelsize=7, rotation=45)
        ax.tick_params(axis="y", labelsize=7)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return base64.b64encode(buf.getvalue()).decode()
    finally:
        plt.close(fig)


def render_html(view: DigestView) -> str:
    template = _env.get_template("digest.html.j2")
    charts = [{"title": c.title, "png": chart_png(c)} for c in view.charts]
    statuses = [s.value for s in (AreaStatus.DRIFTING, AreaStatus.AT_RISK, AreaStatus.ON_TRACK, AreaStatus.NO_EVIDENCE)]
    return template.render(**{**view.__dict__, "charts": charts, "statuses": statuses, "status_labels": STATUS_LABELS})


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML  # loaded when a digest is rendered, not by every service start (~60 MB)

    return HTML(string=html).write_pdf()


class DigestRenderer:
    """The digest's HTML and PDF, and their copies in an output folder when one is configured."""

    def __init__(self, output_dir: Path | None = None) -> None:
        self._output_dir = output_dir

    def html(self, view: DigestView) -> str:
        return render_html(view)

    def pdf(self, html: str) -> bytes:
        return render_pdf(html)

    def keep_copies(self, digest_id: str, html: str, pdf: bytes) -> None:
        if self._output_dir is None:
            return
        self._output_dir.mkdir(parents=True, exist_ok=True)
        (self._output_dir / f"{digest_id}.pdf").write_bytes(pdf)
        (self._output_dir / f"{digest_id}.html").write_text(html, encoding="utf-8")
