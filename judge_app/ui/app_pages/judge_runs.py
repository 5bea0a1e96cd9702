"""Judge runs: status, progress and cost; start a run from a config; judges against people."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from judge_app.core.safe_text import inert_markdown
from judge_app.errors import JudgeAppError
from judge_app.services import judges
from judge_app.services.leaderboard import agreement
from judge_app.services.overview import task_overview
from judge_app.ui.components.analysis import show_table
from judge_app.ui.session import database, require_admin

require_admin()
db = database()
st.title("Judge runs")

runs = judges.list_runs(db)
if runs:
    columns = ["rater_id", "task_id", "status", "progress", "total_calls", "cached_calls",
               "done_calls", "failed_calls", "cost_usd", "max_cost_usd", "started_at",
               "finished_at", "message", "endpoint"]
    number = st.column_config.NumberColumn
    table = pd.DataFrame(runs)[columns]
    # Short headers (meaning in the tooltips), and columns no run uses left out, so the table
    # fits a laptop-wide window.
    table = table.drop(columns=[c for c in ("failed_calls", "max_cost_usd", "finished_at",
                                            "message")
                                if not table[c].fillna(0).astype(bool).any()])
    st.dataframe(
        table, hide_index=True, width="stretch",
        column_config={
            "rater_id": st.column_config.TextColumn("judge", pinned=True),
            "task_id": st.column_config.TextColumn("task"),
            "progress": st.column_config.ProgressColumn(
                "progress", help="Answered calls (cached included) / planned calls",
                min_value=0.0, max_value=1.0, format="percent", width=100),
            "total_calls": number("calls", help="planned calls"),
            "cached_calls": number("cached", help="answered from the cache"),
            "done_calls": number("done", help="answered by the endpoint in this run"),
            "failed_calls": number("failed", help="calls that failed"),
            "cost_usd": number("cost", help="USD spent", format="$%.4f"),
            "max_cost_usd": number("budget", help="USD budget (none: no limit)",
                                   format="$%.2f"),
            "started_at": st.column_config.DatetimeColumn("started", format="MM-DD HH:mm"),
            "finished_at": st.column_config.DatetimeColumn("finished", format="MM-DD HH:mm"),
            "message": st.column_config.TextColumn("message", help="why a run stopped"),
            "endpoint": st.column_config.TextColumn(
                "endpoint", help="the judge's endpoint, credentials masked", width="small"),
        },
    )
    endpoints = sorted({(r["rater_id"], r["endpoint"]) for r in runs if r["endpoint"]})
    if endpoints:  # whole, since the table's column is narrow
        st.caption(inert_markdown("Endpoints: " + "; ".join(f"{j} → {e}" for j, e in endpoints)))
    st.caption("Status 'interrupted': the run's process is gone (killed or crashed); start "
               "the same run again to resume from its stored answers. Endpoints are shown "
               "with any credentials masked.")
    st.button("Refresh", key="judge_runs_refresh")
else:
    st.info("No judge runs yet. Start one below or with `judge-app judge --task T --judge "
            "FILE.toml` (docs/judges.md).")

tasks = [row["task"] for row in task_overview(db)]
if not tasks:
    st.stop()

st.subheader("Start a run")
st.caption("The run is its own process: it goes on when this tab closes, and a run stopped "
           "for any reason resumes from its stored answers when started again.")
with st.form("judge_run_form"):
    task_id = st.selectbox("Task", tasks, key="judge_run_task")
    path = st.text_input("Judge config on the server (TOML)", key="judge_run_path",
                         placeholder="judges/my-judge.toml")
    uploaded = st.file_uploader("or upload a judge config", type=["toml"],
                                key="judge_run_upload")
    max_cost = st.number_input("Budget in USD (0 = none)", min_value=0.0, value=0.0,
                               step=1.0, key="judge_run_budget")
    estimate_clicked = st.form_submit_button("Estimate")
    start_clicked = st.form_submit_button("Start run", type="primary")

if estimate_clicked or start_clicked:
    config_file: Path | None = None
    if uploaded is not None:  # kept beside the database, so the run's process can read it
        config_file = db.local_path.parent / "judges" / Path(uploaded.name).name
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_bytes(uploaded.getvalue())
    elif path.strip():
        config_file = Path(path.strip())
    if config_file is None:
        st.error("Give the path of a judge config or upload one.")
    else:
        try:
            plan = judges.estimate(db, task_id, config_file)
            calls = plan.calls
            st.write(
                f"**{plan.judge}** ({plan.model} at {plan.endpoint}): "
                f"{plan.pairs} pairs, {plan.planned_calls} calls, "
                f"{plan.cached_calls} cached, {calls.calls} to make; about "
                f"{calls.input_tokens:,} input tokens; cost ${calls.input_cost_usd:.4f} "
                f"input, at most ${calls.max_cost_usd:.4f} in all.")
            if start_clicked:
                pid, log = judges.start_run(db.target, task_id, config_file,
                                            max_cost=max_cost or None)
                st.success(f"Started (process {pid}). Log: {log}. Refresh to follow it.")
        except JudgeAppError as exc:
            st.error(str(exc))

st.subheader("Judges against people")
chosen = st.selectbox("Task", tasks, key="judge_agreement_task")
report = agreement(db, chosen, "judge")
table = report.judges[report.judges["n"] > 0] if len(report.judges) else report.judges
if len(table):
    st.caption("Each judge's verdicts scored against the human majority on the pairs both "
               "judged (ties included).")
    show_table(table)
else:
    st.caption("No pair of this task has verdicts from both a judge and people yet.")
