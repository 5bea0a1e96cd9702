"""Pure logic: no streamlit, duckdb or openai imports here (checked by tests/test_core_purity.py)."""
