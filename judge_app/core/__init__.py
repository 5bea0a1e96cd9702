"""Pure logic: no streamlit, duckdb or openai imports (tests/test_core_purity.py checks)."""
