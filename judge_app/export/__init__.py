"""Exports: preference datasets, battle logs, verdicts, leaderboards, reports."""

from judge_app.registry import EXPORT_FORMATS, names

# From the registry, so that the CLI's --help lists them without importing pandas.
PREFERENCE_FORMATS = names(EXPORT_FORMATS, "preference")
FORMATS = names(EXPORT_FORMATS)
