"""Exports: preference datasets, battle logs, verdicts, leaderboards, reports."""

# Here rather than in formats.py so that the CLI's --help lists them without importing pandas.
PREFERENCE_FORMATS = ("trl", "trl-chat", "openai-dpo", "kto")
FORMATS = (*PREFERENCE_FORMATS, "battles", "verdicts", "leaderboard")
