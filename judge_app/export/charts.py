"""Altair chart builders shared by the app's pages and the HTML report.

Each takes the tables the services return and gives back a chart; the pages hand it to
Streamlit, the report renders it to SVG offline with vl-convert. Charts never compute figures.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

WIDTH = 560
# Heights as a step per row: Streamlit ignores a fixed height on layered charts.
ROW = alt.Step(22)
# (column of services.leaderboard.quality_vs_cost, axis title, its frontier column)
# Names are shown whole: Vega-Lite cuts axis labels at 180 px by default (Streamlit's theme
# even sooner), and names that share a prefix ("Meta-Llama-3-70B-...") then look alike.
NAMES = alt.Axis(labelLimit=0)
COST_AXES = (("cost_usd", "mean cost per output (USD)", "cost_front"),
             ("latency_ms", "mean latency per output (ms)", "latency_front"))


def interval_chart(table: pd.DataFrame) -> alt.Chart:
    """Forest plot: each rated model's rating with its interval, best at the top."""
    data = table.loc[table["rated"], ["model", "rating", "lower", "upper", "rank"]]
    order = data["model"].tolist()
    y = alt.Y("model:N", sort=order, title=None, axis=NAMES)
    x_scale = alt.Scale(zero=False)
    base = alt.Chart(data)
    bars = base.mark_rule(strokeWidth=2).encode(
        y=y, x=alt.X("lower:Q", scale=x_scale, title="rating (95% interval)",
                                 axis=alt.Axis(format="d")), x2="upper:Q")
    points = base.mark_point(filled=True, size=50).encode(
        y=y, x=alt.X("rating:Q", scale=x_scale),
        tooltip=["rank:Q", "model:N", alt.Tooltip("rating:Q", format=".1f"),
                 alt.Tooltip("lower:Q", format=".1f"), alt.Tooltip("upper:Q", format=".1f")])
    return (bars + points).properties(width=WIDTH, height=ROW, title="Ratings with intervals")


def win_rate_heatmap(observed: pd.DataFrame, battles: pd.DataFrame,
                     order: list[str] | None = None) -> alt.Chart:
    """Observed share won by the row model against the column model, with the battle count
    in each cell's label and tooltip. Blank where two models never met."""
    models = order if order is not None else list(observed.index)
    rate = observed.loc[models, models].to_numpy()
    n = battles.loc[models, models].to_numpy()
    rows, cols = np.nonzero(n > 0)
    data = pd.DataFrame({
        "model": [models[i] for i in rows], "opponent": [models[j] for j in cols],
        "win_rate": rate[rows, cols], "battles": n[rows, cols].astype(int),
    })
    data["label"] = [f"{r:.0%}\nn={b}" for r, b in zip(data["win_rate"], data["battles"],
                                                       strict=True)]
    cell = alt.Step(max(12, min(48, 900 // max(len(models), 1))))
    base = alt.Chart(data).encode(
        y=alt.Y("model:N", sort=models, title="model (row) wins against", axis=NAMES),
        x=alt.X("opponent:N", sort=models, title=None,
                axis=alt.Axis(labelAngle=-40, orient="top", labelLimit=0)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("win_rate:Q", title="win rate",
                        scale=alt.Scale(scheme="redblue", domain=[0, 1], domainMid=0.5)),
        tooltip=["model:N", "opponent:N", alt.Tooltip("win_rate:Q", format=".1%"),
                 "battles:Q"])
    chart = cells
    if len(models) <= 15:
        chart = cells + base.mark_text(fontSize=9, lineBreak="\n").encode(text="label:N")
    return chart.properties(width=cell, height=cell, title="Observed win rate (ties count half)")


def share_chart(frame: pd.DataFrame, share: str, title: str, label: str = "rater_id") -> alt.Chart:
    """A share per rater (or judge) with its interval and a line at 0.5, where no bias lies."""
    data = frame.loc[frame["n"] > 0, [label, "source", "n", share, "lower", "upper"]]
    y = alt.Y(f"{label}:N", title=None, sort=data[label].tolist(), axis=NAMES)
    scale = alt.Scale(domain=[0, 1])
    base = alt.Chart(data)
    rules = base.mark_rule(strokeWidth=2).encode(
        y=y, x=alt.X("lower:Q", scale=scale, title=f"{share} (95% interval)"), x2="upper:Q")
    points = base.mark_point(filled=True, size=50).encode(
        y=y, x=alt.X(f"{share}:Q", scale=scale), color=alt.Color("source:N"),
        tooltip=[f"{label}:N", "source:N", "n:Q", alt.Tooltip(f"{share}:Q", format=".3f"),
                 alt.Tooltip("lower:Q", format=".3f"), alt.Tooltip("upper:Q", format=".3f")])
    half = alt.Chart(pd.DataFrame({"x": [0.5]})).mark_rule(strokeDash=[4, 4],
                                                          color="gray").encode(x="x:Q")
    return (half + rules + points).properties(width=WIDTH, height=ROW, title=title)


def cost_chart(frame: pd.DataFrame, x: str, x_title: str, front: str) -> alt.Chart:
    """Rating against a cost (log scale), each model labelled, with its Pareto frontier."""
    data = frame[np.isfinite(frame[x]) & (frame[x] > 0)]
    scale = alt.Scale(type="log")
    base = alt.Chart(data).encode(x=alt.X(f"{x}:Q", scale=scale, title=x_title))
    y = alt.Y("rating:Q", scale=alt.Scale(zero=False), title="rating")
    points = base.mark_point(filled=True, size=60).encode(
        y=y, color=alt.Color(f"{front}:N", title="on frontier", scale=alt.Scale(
            domain=[True, False], range=["#d94f2b", "#8c8c8c"])),
        tooltip=["model:N", alt.Tooltip("rating:Q", format=".1f"),
                 alt.Tooltip(f"{x}:Q", format=".4g")])
    errors = base.mark_rule(opacity=0.4).encode(y=alt.Y("lower:Q"), y2="upper:Q")
    labels = base.mark_text(align="left", dx=6, fontSize=10).encode(y=y, text="model:N")
    line = alt.Chart(data[data[front]].sort_values(x)).mark_line(
        color="gray", strokeDash=[4, 3], interpolate="step-after").encode(
        x=alt.X(f"{x}:Q", scale=scale), y=y)
    return (errors + line + points + labels).properties(width=WIDTH, height=320,
                                                        title=f"Rating against {x_title}")
