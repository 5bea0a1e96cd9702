"""Admin: export a preference dataset, the battle log, verdicts or the leaderboard."""

from __future__ import annotations

import streamlit as st

from judge_app.core.safe_text import inert_markdown
from judge_app.errors import JudgeAppError
from judge_app.export.card import render
from judge_app.export.formats import FORMATS, PREFERENCE_FORMATS
from judge_app.services.exports import ExportRequest, build, download, preview, task_names
from judge_app.ui.session import database, require_admin

require_admin()
st.title("Export")
db = database()
tasks = task_names(db)
if not tasks:
    st.info("No tasks yet. Import one with `judge-app import PATH`.")
    st.stop()

left, right = st.columns(2)
task = left.selectbox("Task", tasks, key="export_task")
fmt = right.selectbox("Format", FORMATS, key="export_format")
source = left.text_input("Verdict sources", "all", key="export_source",
                         help="all, human, judge or judge:NAME")
file_type = right.selectbox("File type", ["jsonl", "parquet", "csv"], key="export_type")
preference = fmt in PREFERENCE_FORMATS
min_votes = left.number_input("Minimum votes per pair", 1, 1000, 1, key="export_min_votes",
                              disabled=not preference)
min_agreement = right.slider("Minimum agreement", 0.0, 1.0, 0.0, 0.05,
                             key="export_min_agreement", disabled=not preference)
both_bad = st.checkbox("Only the prompts whose answers were both bad", key="export_both_bad",
                       disabled=not preference)

request = ExportRequest(
    task=str(task), fmt=str(fmt), source=source.strip() or "all",
    min_votes=int(min_votes) if preference else 1,
    min_agreement=float(min_agreement) if preference else 0.0,
    both_bad=bool(both_bad) and preference,
)
try:
    built = build(db, request)
except JudgeAppError as exc:
    st.error(str(exc))
    st.stop()

st.caption(f"{built.rows} rows")
st.dataframe(preview(built, 20), hide_index=True, width="stretch")
name = f"{request.task}-{request.fmt}"
built.info.data_file = f"{name}.{file_type}"
if st.button("Prepare download", key="export_prepare"):
    st.download_button(f"Download {name}.{file_type}", download(built, str(file_type)),
                       file_name=f"{name}.{file_type}", key="export_download")
    st.download_button(f"Download the dataset card ({name}.{file_type}.card.md)",
                       render(built.info), file_name=f"{name}.{file_type}.card.md",
                       key="export_card")
with st.expander("Dataset card"):
    st.markdown(inert_markdown(render(built.info).split("---", 2)[-1]))
