"""Leaderboard: ratings with intervals, win rates and cost for one slice of a task's verdicts."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from judge_app.core.safe_text import inert_markdown
from judge_app.core.scale import parse_anchor
from judge_app.core.vocabulary import TIE_MODELS
from judge_app.export import charts
from judge_app.services.adaptive import adaptive_line
from judge_app.services.leaderboard import (
    LeaderboardQuery,
    elo_history,
    output_speed,
    quality_vs_cost,
    run_leaderboard,
    win_rate_matrices,
)
from judge_app.ui.components.analysis import (
    pick_task,
    run_or_stop,
    self_identified_switch,
    slice_filters,
)
from judge_app.ui.session import database, require_admin

require_admin()
db = database()
st.title("Leaderboard")
task_id = pick_task(db)
slice_ = slice_filters(db, task_id)
slice_["include_self_identified"] = self_identified_switch(db, task_id, slice_)
cols = st.columns(5)
ci = cols[0].selectbox("Intervals", ["sandwich", "bootstrap"],
                       help="sandwich: analytic, fast; bootstrap: 1,000 seeded count-space "
                            "resamples, percentile intervals")
ties = cols[1].selectbox("Ties", TIE_MODELS,
                         help="half: a tie is half a win; davidson: a tie-aware model")
style = cols[2].checkbox("Style control", help="control for length and markdown; the raw "
                                               "rating is shown beside the controlled one")
anchor_text = cols[3].text_input("Anchor", placeholder="MODEL=1000",
                                 help="pin one model's rating")
rating_model = cols[4].selectbox(
    "Rating model", ["bradley-terry", "reliability"],
    help="reliability: also learn each rater's reliability and position bias and weigh "
         "their votes by it (model-based intervals, half-win ties, no style control)")
anchor = run_or_stop(parse_anchor, anchor_text) if anchor_text.strip() else None

query = LeaderboardQuery(task_id, ci=ci, ties=ties, style_control=style, anchor=anchor,
                         rating_model=rating_model, **slice_)  # type: ignore[arg-type]
table = run_or_stop(run_leaderboard, db, query)
baseline = st.selectbox("Win rate against", ["(none)", *table["model"]],
                        help="AlpacaEval's rule: ties count half; in percent, with its SE")
if baseline != "(none)":
    query = replace(query, baseline=baseline)
    table = run_or_stop(run_leaderboard, db, query)
if st.checkbox("Compare with online Elo (K = 4, in time order)"):
    table["elo"] = table["model"].map(run_or_stop(elo_history, db, query))

shown = table.drop(columns=["se", "rated", "identified"])
shown.loc[~table["rated"], "rating"] = None
st.dataframe(shown, hide_index=True, width="stretch", column_config={
    c: st.column_config.NumberColumn(format="%.1f")
    for c in ("rating", "lower", "upper", "raw_rating", "elo")} | {
    c: st.column_config.NumberColumn(format="%.2f") for c in ("win_rate", "win_rate_se")})
if not table["rated"].all():
    st.caption("A model the battles do not identify has no rating; its note says why.")
if (target_line := run_or_stop(adaptive_line, db, task_id, query.source)) is not None:
    st.caption(inert_markdown(target_line))
if table["rated"].any():
    st.altair_chart(charts.interval_chart(table), width="stretch")
if "raters" in table.attrs:
    st.subheader("Rater reliability")
    st.caption("reliability: share of a rater's votes that follow the ratings rather than a "
               "guess; guess_left: share of the guesses for the left side (0.5 = no position "
               "bias; blank when the rater never saw the sides swapped). 95% intervals.")
    st.dataframe(pd.DataFrame(table.attrs["raters"]), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in
                                ("reliability", "reliability_lower", "reliability_upper",
                                 "guess_left", "guess_left_lower", "guess_left_upper")})

st.subheader("Win rates")
matrices = run_or_stop(win_rate_matrices, db, query)
observed, predicted = st.tabs(["Observed", "Predicted by the fit"])
with observed:
    st.altair_chart(charts.win_rate_heatmap(matrices["observed"], matrices["battles"],
                                            table["model"].tolist()))
with predicted:
    st.dataframe(matrices["predicted"].loc[table["model"], table["model"]],
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in table["model"]})

st.subheader("Quality against cost and latency")
costs = quality_vs_cost(db, task_id, table)
shown_any = False
for col, title, front in charts.COST_AXES:
    if (costs[col] > 0).any():
        st.altair_chart(charts.cost_chart(costs, col, title, front), width="stretch")
        shown_any = True
if not shown_any:
    st.caption("This task's outputs carry no cost or latency.")
speed = [s for s in run_or_stop(output_speed, db, task_id).values()
         if s.with_latency or s.with_cost]
if speed:
    st.caption("Per answer, from the outputs that carry the figure (generated outputs always "
               "do): median and 95th-percentile latency, median time to first token, mean "
               "cost.")
    st.dataframe(
        [{"model": s.model, "latency p50 (ms)": s.latency_p50_ms,
          "latency p95 (ms)": s.latency_p95_ms, "first token p50 (ms)": s.ttft_p50_ms,
          "cost per answer (USD)": s.cost_per_answer_usd,
          "outputs with latency / cost": f"{s.with_latency} / {s.with_cost} of {s.outputs}"}
         for s in speed],
        hide_index=True, key="speed_table",
        column_config={"latency p50 (ms)": st.column_config.NumberColumn(format="%.0f"),
                       "latency p95 (ms)": st.column_config.NumberColumn(format="%.0f"),
                       "first token p50 (ms)": st.column_config.NumberColumn(format="%.0f"),
                       "cost per answer (USD)": st.column_config.NumberColumn(format="%.6f")})
