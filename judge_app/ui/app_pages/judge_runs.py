"""Judge runs: a placeholder until its own branch lands."""

from __future__ import annotations

import streamlit as st

from judge_app.ui.session import require_admin

require_admin()
st.title("Judge runs")
st.info("Coming soon: LLM-judge batches and their costs.")
