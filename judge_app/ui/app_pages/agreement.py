"""Agreement and rater quality: do raters agree, do judges agree with people, who is careless."""

from __future__ import annotations

import streamlit as st

from judge_app.services.leaderboard import agreement
from judge_app.services.reliability import agreement_with_reliability
from judge_app.ui.components.analysis import fmt, pick_task, run_or_stop, show_table
from judge_app.ui.session import database, require_admin

require_admin()
db = database()
st.title("Agreement and rater quality")
task_id = pick_task(db)
whose = st.segmented_control("Raters", ["human", "judge", "all"], default="human",
                             help="whose verdicts every figure and table below covers") \
    or "human"
with_reliability = st.checkbox(
    "Reliability model", help="add each rater's estimated reliability (share of votes that "
    "follow the ratings) and position bias (guess_left) to the rater quality table, fitted "
    "on all of the task's verdicts")
report = run_or_stop(agreement_with_reliability if with_reliability else agreement, db,
                     task_id, None if whose == "all" else whose)

cols = st.columns(5)
cols[0].metric("Krippendorff's alpha (nominal)", fmt(report.alpha_nominal))
cols[1].metric("alpha (ordinal)", fmt(report.alpha_ordinal),
               help="both_bad merged into tie, on an a < tie < b scale")
cols[2].metric("Fleiss' kappa", fmt(report.fleiss_kappa))
cols[3].metric("Percent agreement", fmt(report.percent_agreement))
cols[4].metric("Pairs rated twice or more", report.pairs_rated_twice)
if report.alpha_nominal is None:
    st.caption("Alpha is n/a: no pair was rated by two raters, or every rating is the same.")

st.subheader("Rater pairs (Cohen's kappa)")
if report.rater_pairs.empty:
    st.caption("No two raters judged the same pair.")
else:
    show_table(report.rater_pairs)

st.subheader("Judges against the human majority")
if report.judges.empty:
    st.caption(f"{report.judges_elsewhere} judge(s) rated this task: choose 'judge' or 'all' "
               "above to score them." if report.judges_elsewhere
               else "No judge verdicts on pairs with a human majority.")
else:
    with_ties, decisive = st.tabs(["All pairs", "Decisive pairs only (no ties)"])
    with with_ties:
        show_table(report.judges)
    with decisive:
        show_table(report.judges_decisive)

st.subheader("Rater quality")
st.caption("LOO agr.: agreement with the majority of the other people on the same pair; "
           "gold acc.: on pairs with a known answer; retest: same outcome when a pair came "
           "back swapped; left: share of decisive verdicts for the left side; median s: "
           "seconds per verdict. Hover a header for its meaning.")
if with_reliability:
    st.caption("reliability (with its 95% interval): share of the rater's votes that follow "
               "the ratings of the reliability model rather than a guess; guess_left: share "
               "of their guesses for the left side (0.5 = no position bias; blank when they "
               "never saw the sides swapped). Low reliability means 'disagrees with the rest', "
               "which is not always wrong: check gold answers before dropping anyone.")
if report.rater_quality.empty:
    st.caption("No verdicts yet.")
else:
    quality = report.rater_quality
    show_table(quality.drop(columns=["source"]) if whose != "all" else quality,
               **{c: st.column_config.NumberColumn(c.replace("_", " "), format="%.3f")
                  for c in ("reliability", "reliability_lower", "reliability_upper",
                            "guess_left")})
