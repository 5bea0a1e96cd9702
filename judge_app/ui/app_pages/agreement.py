"""Agreement: a placeholder until its own branch lands."""

from __future__ import annotations

import streamlit as st

from judge_app.ui.session import require_admin

require_admin()
st.title("Agreement")
st.info("Coming soon: agreement between raters and judges, and bias figures.")
