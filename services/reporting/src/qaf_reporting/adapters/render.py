"""The dashboard's HTML: one page with server-drawn SVG charts (adapters/charts.py), no script, no CDN."""

from __future__ import annotations

import asyncio
import html
from typing import Any
from urllib.parse import urlencode

from qaf_shared.months import Month
from qaf_shared.vocabulary import SERVICE_LABELS, Service

from qaf_reporting.adapters import charts
from qaf_reporting.domain import dashboard, reports
from qaf_reporting.domain.figures import ALL


async def dashboard_page(
    end: Month, scope: str, data: dashboard.DashboardSeries, quarterly: dict[str, Any], collation: dict[str, Any]
) -> str:
    """The dashboard of a period; the charts are drawn in a worker thread (matplotlib is CPU-bound)."""
    svgs = await asyncio.to_thread(_draw, data)
    body = _body(end, scope, data, svgs, quarterly, collation)
    return _page(f"QAF reporting — {_label_of(scope)} — {end.label}", body, end, scope)


def empty_page(scope: str) -> str:
    """The dashboard before any event has been counted."""
    return _page("QAF reporting", "<p class='empty'>No events have been counted yet.</p>", None, scope)


def _label_of(scope: str) -> str:
    return "All services" if scope == ALL else SERVICE_LABELS[Service(scope)]


def _draw(data: dashboard.DashboardSeries) -> dict[str, str]:
    return {
        "themes": charts.line_chart("Themes found in audits (rolling 3 months, per 100 audits)", data.months,
                                    data.theme_rates, "per 100 audits"),
        "grades": charts.stacked_bars("Overall grades of audits completed", data.months, data.grades,
                                      charts.GRADE_COLOURS),
        "indicators": charts.line_chart("Indicator results (rolling 3 months, % yes)", data.months,
                                        data.indicator_yes, "% yes"),
        "activity": charts.grouped_bars("Escalations, complaints, concerns and overdue audits", data.months,
                                        data.activity, "count"),
    }


def _cell(value: Any) -> str:
    return "–" if value is None else html.escape(str(value))


def _body(end: int, scope: str, data: dashboard.DashboardSeries, svgs: dict[str, str],
           quarterly: dict[str, Any], collation: dict[str, Any]) -> str:
    e = html.escape
    key_areas = quarterly["key_areas_for_practice_development"]
    areas = "".join(f"<li>{e(reports.label(t))}</li>" for t in key_areas) or "<li>none found in audits</li>"
    theme_rows = "".join(
        f"<tr><td>{r['prevalence_rank']}</td><td>{e(r['label'])}</td><td>{r['audits_finding']}</td>"
        f"<td>{_cell(r['per_100_audits'])}</td><td>{_cell(r['previous_per_100_audits'])}</td>"
        f"<td>{_cell(r['change'])}</td><td>{r['practice_concerns']}</td><td>{r['escalations']}</td>"
        f"<td>{r['complaints']}</td></tr>"
        for r in quarterly["themes_by_prevalence"]
    )
    collation_rows = "".join(
        f"<tr><td>{e(s['label'])}</td><td>{s['audits_completed']}</td><td>{s['audits_allocated']}</td>"
        f"<td>{_cell(s['percent_of_allocation_completed'])}</td>"
        f"<td>{' · '.join(f'{g}: {n}' for g, n in s['overall_grades'].items() if n) or '–'}</td>"
        f"<td>{s['practice_concerns']}</td><td>{s['audits_overdue']}</td><td>{s['escalations_raised']}</td>"
        f"<td>{s['complaints_received']}</td></tr>"
        for s in collation["services"]
    )
    q = quarterly["quarter"]
    downloads = (
        f"<a href='/dashboard/download/monthly.csv?{urlencode({'period_end': Month(end).label})}'>monthly collation (CSV)</a> · "
        f"<a href='/dashboard/download/quarterly.csv?{urlencode({'period_end': Month(end).label, 'service': scope})}'>"
        "quarterly report (CSV)</a>"
    )
    return f"""
<section class="summary">
  <div class="card"><h2>Key areas for practice development</h2><p class="sub">{e(q['from'])} to {e(q['to'])},
  {quarterly['audits_completed']} audits</p><ol id="key-areas">{areas}</ol></div>
  <div class="card"><h2>Downloads</h2><p>{downloads}</p></div>
</section>
<section class="charts">
  <figure id="chart-themes">{svgs['themes']}</figure>
  <figure id="chart-grades">{svgs['grades']}</figure>
  <figure id="chart-indicators">{svgs['indicators']}</figure>
  <figure id="chart-activity">{svgs['activity']}</figure>
</section>
<section>
  <h2>Quarterly report: themes by prevalence ({e(q['from'])} to {e(q['to'])} against the previous three months)</h2>
  <table id="quarterly"><thead><tr><th>#</th><th>theme</th><th>audits finding it</th><th>per 100 audits</th>
  <th>previous</th><th>change</th><th>concerns</th><th>escalations</th><th>complaints</th></tr></thead>
  <tbody>{theme_rows}</tbody></table>
</section>
<section>
  <h2>Monthly collation, {e(collation['month'])}</h2>
  <table id="collation"><thead><tr><th>service</th><th>audits completed</th><th>allocated</th>
  <th>% of allocation completed</th><th>overall grades</th><th>concerns</th><th>overdue</th><th>escalations</th>
  <th>complaints</th></tr></thead><tbody>{collation_rows}</tbody></table>
</section>"""


def _page(title: str, body: str, end: int | None, scope: str) -> str:
    e = html.escape
    options = "".join(
        f"<option value='{code}'{' selected' if code == scope else ''}>{e(name)}</option>"
        for code, name in [(ALL, "All services"), *((s.value, SERVICE_LABELS[s]) for s in Service)]
    )
    month_value = Month(end).label if end is not None else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; color: #222; background: #f6f7f9; }}
header {{ background: #1b3a5c; color: #fff; padding: 12px 24px; display: flex; align-items: center; gap: 24px; }}
header h1 {{ font-size: 18px; margin: 0; flex: 1; }}
header form {{ display: flex; gap: 8px; align-items: center; }}
main {{ padding: 16px 24px; }}
.summary {{ display: flex; gap: 16px; }}
.card {{ background: #fff; border-radius: 6px; padding: 8px 16px; box-shadow: 0 1px 2px #0002; flex: 1; }}
.card h2, section h2 {{ font-size: 15px; }}
.sub {{ color: #666; margin: 0; }}
.charts {{ display: grid; grid-template-columns: 1fr 1fr; gap: 16px; margin: 16px 0; }}
figure {{ background: #fff; margin: 0; padding: 8px; border-radius: 6px; box-shadow: 0 1px 2px #0002; }}
svg.chart {{ width: 100%; height: auto; }}
table {{ border-collapse: collapse; background: #fff; width: 100%; font-size: 13px; }}
th, td {{ border-bottom: 1px solid #e3e3e3; padding: 4px 8px; text-align: left; }}
th {{ background: #eef1f5; }}
.empty {{ font-size: 16px; color: #666; }}
</style></head>
<body><header><h1>{e(title)}</h1>
<form method="get" action="/dashboard"><label>period end <input name="period_end" value="{month_value}"
 pattern="\\d{{4}}-\\d{{2}}" size="8"></label><label>service <select name="service">{options}</select></label>
<button type="submit">show</button></form></header>
<main>{body}</main></body></html>"""
