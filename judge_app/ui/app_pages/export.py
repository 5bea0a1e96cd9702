"""Export: a placeholder until its own branch lands."""

from __future__ import annotations

import streamlit as st

from judge_app.ui.session import require_admin

require_admin()
st.title("Export")
st.info("Coming soon: preference datasets, battle logs and reports.")
