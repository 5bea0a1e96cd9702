"""One self-contained HTML report of a task: leaderboard, win rates, agreement, bias, cost.

Rendering only: services/report.py gathers the figures into a `ReportData` and this module
turns it into HTML, so it knows no database and no use-case. Works offline: charts are inline
SVG rendered by vl-convert, styles are inline, nothing is fetched. Every piece of user data
(model, rater and task names) goes through html.escape.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import vl_convert

from judge_app import __version__
from judge_app.core.agreement_report import AgreementReport
from judge_app.core.terminal import shown
from judge_app.export import charts

HEATMAP_MODELS = 30  # beyond this a heatmap is unreadable; the report shows the top ones


@dataclass(frozen=True)
class Ratings:
    """The leaderboard part of a report, present when the task has verdicts to rate."""

    table: pd.DataFrame  # core.leaderboard's table
    win_rates: pd.DataFrame  # observed, row model against column model
    battles: pd.DataFrame  # how many battles each cell rests on
    costs: pd.DataFrame  # services.leaderboard.quality_vs_cost


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, gathered by services/report.py."""

    task_id: str
    title: str
    source: str  # whose verdicts are rated
    ci: str  # how the intervals were computed
    agreement_source: str | None  # whose agreement alpha measures (None: everyone)
    ratings: Ratings | None  # None: no verdicts from `source` yet
    agreement: AgreementReport  # among raters of agreement_source
    everyone: AgreementReport  # all raters and judges: judges against people, bias
    generated_at: datetime
    rating_model: str = "bradley-terry"
    self_identified: str = ""  # how many self-identified arena votes are left out or counted

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td.text,th.text{text-align:left}
.note{color:#555;font-size:.9em}.figure{margin:1em 0;overflow-x:auto}
.stats span{display:inline-block;margin-right:2em}
.table-wrap{margin:.8em 0;overflow-x:auto;max-width:100%}.table-wrap table{margin:0}
.table-wrap th:first-child,.table-wrap td:first-child{position:sticky;left:0;background:#fff;
box-shadow:1px 0 0 #ddd}.table-wrap th:first-child{background:#f3f3f3}
"""

_XMLNS = re.compile(r'\s+xmlns(:xlink)?="[^"]*"')


def svg(chart: alt.TopLevelMixin) -> str:
    """The chart as inline SVG; namespace declarations (not needed inline) are dropped so the
    file holds no address at all."""
    spec = _printable(json.loads(chart.to_json()))
    drawing = _XMLNS.sub("", vl_convert.vegalite_to_svg(json.dumps(spec)))
    return f'<div class="figure">{drawing}</div>'


def _printable(value: Any) -> Any:
    """Every string of a chart spec with control characters escaped. vl-convert aborts the
    whole process (a Rust panic, no exception to catch) on a label that is not valid XML,
    such as a model name holding ESC or BEL. Data, sort orders and titles change alike, so
    the chart stays consistent."""
    if isinstance(value, str):
        return shown(value, one_line=True)
    if isinstance(value, list):
        return [_printable(v) for v in value]
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    return value


def _cell(value: object, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(shown(value, one_line=True))


def table_html(frame: pd.DataFrame, columns: Sequence[str] | None = None,
               digits: dict[str, int] | None = None) -> str:
    """An escaped HTML table; numbers to `digits` places (3 unless given per column).

    Wide tables scroll sideways inside their own box (focusable, so the keyboard scrolls it
    too) with the first column, the names, kept in view."""
    columns = [c for c in (columns or frame.columns) if c in frame.columns]
    digits = digits or {}
    text = {c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])}
    head = "".join(f'<th class="{"text" if c in text else ""}">{html.escape(c)}</th>'
                   for c in columns)
    rows = []
    for record in frame[columns].to_dict(orient="records"):
        cells = "".join(
            f'<td class="{"text" if c in text else ""}">{_cell(record[c], digits.get(c, 3))}</td>'
            for c in columns)
        rows.append(f"<tr>{cells}</tr>")
    return (f'<div class="table-wrap" tabindex="0" role="region" aria-label="table">'
            f"<table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _p(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _leaderboard_sections(data: ReportData) -> list[str]:
    if data.ratings is None:
        return ["<h2>Leaderboard</h2>",
                _p(f"No verdicts from source '{data.source}' yet: nothing to rate."),
                *([_p(data.self_identified)] if data.self_identified else [])]
    table = data.ratings.table
    shown = table.copy()
    shown["rating"] = shown["rating"].where(shown["rated"])
    rated = table[table["rated"]]
    parts = [
        "<h2>Leaderboard</h2>",
        _p(("Bradley-Terry ratings" if data.rating_model != "reliability" else
            "Ratings from the rater-reliability model (Bradley-Terry strengths, each rater's "
            "votes weighed by their estimated reliability: see the reliability and guess_left "
            "columns of the rater quality table)")
           + " (400/ln 10 scale around 1000) with 95% intervals "
           f"({data.ci if data.rating_model != 'reliability' else 'model-based'}); rank = 1 + "
           "the number of models whose lower bound is above this model's upper bound. A model "
           "whose rating the battles do not identify is shown last, without a rating, and "
           "the note says why."),
        table_html(shown, ["rank", "model", "rating", "lower", "upper", "raw_rating",
                           "battles", "wins", "ties", "losses", "win_rate", "win_rate_se",
                           "note"],
                   {"rating": 1, "lower": 1, "upper": 1, "raw_rating": 1, "win_rate": 2,
                    "win_rate_se": 2}),
    ]
    if data.self_identified:
        parts.append(_p(data.self_identified))
    if not rated.empty:
        parts.append(svg(charts.interval_chart(table)))
    order = table["model"].tolist()[:HEATMAP_MODELS]
    parts += ["<h2>Win rates</h2>",
              _p("Share of battles the row model won against the column model (ties count "
                 "half); n is the number of battles. Blank cells: the two never met."
                 + (f" Top {HEATMAP_MODELS} models only." if len(table) > HEATMAP_MODELS
                    else "")),
              svg(charts.win_rate_heatmap(data.ratings.win_rates, data.ratings.battles,
                                          order))]
    parts += _cost_section(data.ratings.costs)
    return parts


def _cost_section(frame: pd.DataFrame) -> list[str]:
    parts = ["<h2>Quality against cost and latency</h2>"]
    shown = 0
    for col, title, front in charts.COST_AXES:
        if (frame[col] > 0).any():
            parts.append(svg(charts.cost_chart(frame, col, title, front)))
            shown += 1
        else:
            parts.append(_p(f"No {title.split(' per')[0]} recorded for this task's outputs."))
    if shown:
        parts.insert(1, _p("Dashed line: the Pareto frontier, models no other model beats on "
                           "both rating and cost. Vertical bars: rating intervals."))
        parts.append(table_html(frame, ["model", "rating", "cost_usd", "latency_ms",
                                        "latency_p50_ms", "latency_p95_ms", "ttft_p50_ms",
                                        "output_tokens", "cost_front", "latency_front"],
                                {"rating": 1, "cost_usd": 6, "latency_ms": 0,
                                 "latency_p50_ms": 0, "latency_p95_ms": 0, "ttft_p50_ms": 0,
                                 "output_tokens": 0}))
        parts.append(_p("cost_usd and latency_ms: means per answer; latency_p50_ms and "
                        "latency_p95_ms: median and 95th percentile; ttft_p50_ms: median time "
                        "to first token (generated outputs, docs/generation.md)."))
    return parts


def _agreement_sections(report: AgreementReport, source: str | None,
                        everyone: AgreementReport) -> list[str]:
    whose = "all raters" if source is None else f"raters of source '{source}'"
    parts = [
        "<h2>Agreement</h2>",
        '<p class="stats">'
        f"<span>Krippendorff's alpha (nominal): <b>{_fmt(report.alpha_nominal)}</b></span>"
        f"<span>alpha (ordinal): <b>{_fmt(report.alpha_ordinal)}</b></span>"
        f"<span>Fleiss' kappa: <b>{_fmt(report.fleiss_kappa)}</b></span>"
        f"<span>percent agreement: <b>{_fmt(report.percent_agreement)}</b></span></p>",
        _p(f"Among {whose}: {report.raters} raters, {report.pairs_rated_twice} pairs rated at "
           "least twice. Alpha is n/a when undefined (no pair rated twice, or no variation)."),
    ]
    for title, frame, note in (
        ("Rater pairs (Cohen's kappa)", report.rater_pairs, "No two raters share a pair."),
        ("Judges against the human majority", everyone.judges,
         "No judge verdicts on pairs with a human majority."),
        ("Judges against the human majority, decisive pairs only", everyone.judges_decisive,
         ""),
        ("Rater quality (people and judges)", everyone.rater_quality, "No raters."),
    ):
        if frame.empty and not note:
            continue
        parts.append(f"<h3>{html.escape(title)}</h3>")
        parts.append(table_html(frame, digits={"median_duration_ms": 0}) if not frame.empty
                     else _p(note))
    return parts


def _bias_sections(report: AgreementReport) -> list[str]:
    parts = ["<h2>Bias</h2>",
             _p("Shares with 95% Wilson intervals; 0.5 (dashed) is no bias. Position: share of "
                "decisive verdicts for the side shown on the left. Length: share won by the "
                "longer response. Swap consistency: share of pairs judged twice with the "
                "same outcome.")]
    for title, frame, share in (("Position bias", report.position_bias, "left_share"),
                                ("Length bias", report.length_bias, "longer_share"),
                                ("Swap consistency", report.swap_consistency, "consistency")):
        parts.append(f"<h3>{title}</h3>")
        if (frame["n"] > 0).any():
            parts.append(svg(charts.share_chart(frame, share, title)))
            parts.append(table_html(frame))
        else:
            parts.append(_p("No verdicts this figure can use."))
    return parts


def render_report(data: ReportData) -> str:
    """The whole report as one HTML string."""
    body = [*_leaderboard_sections(data),
            *_agreement_sections(data.agreement, data.agreement_source, data.everyone),
            *_bias_sections(data.everyone)]
    name = html.escape(data.title)
    stamp = data.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    meta = html.escape(f"task {data.task_id} · source {data.source} · generated {stamp} by "
                       f"judge_app {__version__}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{name} – judge_app report</title><style>{STYLE}</style></head><body>"
            f"<h1>{name}</h1><p class=\"note\">{meta}</p>{''.join(body)}</body></html>\n")
