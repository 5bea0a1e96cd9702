"""LLM-as-judge: configs, templates, the OpenAI-compatible client, cache keys, cost, runs."""
