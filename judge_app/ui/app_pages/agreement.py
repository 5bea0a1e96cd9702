"""Agreement and rater quality: do raters agree, do judges agree with people, who is careless."""

from __future__ import annotations

import streamlit as st

from judge_app.services.leaderboard import agreement
from judge_app.ui.components.analysis import fmt, pick_task, run_or_stop
from judge_app.ui.session import database, require_admin

require_admin()
db = database()
st.title("Agreement and rater quality")
task_id = pick_task(db)
whose = st.segmented_control("Raters", ["human", "judge", "all"], default="human",
                             help="whose verdicts every figure and table below covers") \
    or "human"
report = run_or_stop(agreement, db, task_id, None if whose == "all" else whose)

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
    st.dataframe(report.rater_pairs, hide_index=True, width="stretch")

st.subheader("Judges against the human majority")
if report.judges.empty:
    st.caption(f"{report.judges_elsewhere} judge(s) rated this task: choose 'judge' or 'all' "
               "above to score them." if report.judges_elsewhere
               else "No judge verdicts on pairs with a human majority.")
else:
    with_ties, decisive = st.tabs(["All pairs", "Decisive pairs only (no ties)"])
    with_ties.dataframe(report.judges, hide_index=True, width="stretch")
    decisive.dataframe(report.judges_decisive, hide_index=True, width="stretch")

st.subheader("Rater quality")
st.caption("loo_agreement: agreement with the majority of the other people on the same pair; "
           "gold_accuracy: on pairs with a known answer; retest_consistency: same outcome when "
           "a pair came back swapped; left_share: share of decisive verdicts for the left side.")
if report.rater_quality.empty:
    st.caption("No verdicts yet.")
else:
    st.dataframe(report.rater_quality, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="%.3f")
        for c in ("loo_agreement", "gold_accuracy", "retest_consistency", "left_share")})
