"""Admin: import a task by upload, with the same checks and messages as `judge-app import`."""

from __future__ import annotations

import streamlit as st

from judge_app.errors import JudgeAppError
from judge_app.ingest.loader import format_names
from judge_app.services.uploads import import_upload
from judge_app.ui.session import database, require_admin

require_admin()
st.title("Import a task")
st.markdown(
    "Upload a **zip of a task folder** (task.toml, prompts.jsonl, outputs.jsonl, ...) or the "
    "files themselves. See `docs/task-format.md`. Importing the same data again changes nothing."
)
with st.form("import"):
    files = st.file_uploader("Files", accept_multiple_files=True,
                             type=["zip", "toml", "jsonl", "json", "gz"])
    fmt = st.selectbox("Format", format_names())
    task_name = st.text_input("Task name (for formats that have none)").strip() or None
    replace = st.checkbox("Replace prompts, outputs or settings whose content changed")
    submitted = st.form_submit_button("Import")
if submitted:
    try:
        with st.spinner("Importing..."):
            reports = import_upload(database(), [(f.name, f.getvalue()) for f in files or []],
                                    fmt, task_name, replace)
        for report in reports:
            st.success(report.summary(warnings=False))
            for warning in report.warnings:
                st.warning(warning)
    except JudgeAppError as exc:
        st.error(str(exc))
