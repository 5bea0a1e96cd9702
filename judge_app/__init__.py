"""judge_app: pairwise judging of LLM outputs by people and LLM judges."""

__version__ = "0.1.0"
