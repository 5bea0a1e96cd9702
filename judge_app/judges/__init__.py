"""LLM-as-judge: configs, templates, the OpenAI-compatible client, cache keys, cost, runs."""

# |2p - 1| below this marks a judge's verdict as unsure (escalation); here so that the CLI's
# --help can show it without importing the run use-case (services/judge_runs.py).
DEFAULT_MARGIN = 0.2
