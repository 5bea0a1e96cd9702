"""A task with verdicts simulated from known ratings, for the report, CLI and page tests."""

from __future__ import annotations

import itertools
import math

import numpy as np

from judge_app.core.types import ImportedVerdict, Output, Prompt, TaskBundle, TaskConfig

EVIL = "<script>alert(1)</script>"


def simulated_bundle(
    name: str = "sim",
    strengths: dict[str, float] | None = None,
    *,
    prompts: int = 40,
    raters: tuple[str, ...] = ("ann", "ben"),
    judges: tuple[str, ...] = ("judge-x",),
    costs: bool = True,
    seed: int = 0,
) -> TaskBundle:
    """Every model answers every prompt; every rater and judge judges every pair once, with
    P(a wins) from Bradley-Terry on `strengths` (natural log scale) and random left sides."""
    strengths = strengths or {"alpha": 1.0, "beta": 0.5, "gamma": 0.0, EVIL: -0.5}
    rng = np.random.default_rng(seed)
    models = sorted(strengths)
    prompt_rows = [Prompt(f"q{i}", ({"role": "user", "content": f"question {i}"},),
                          category="math" if i % 2 else "chat") for i in range(prompts)]
    outputs = [
        Output(f"q{i}", m, ({"role": "assistant", "content": f"answer {i} " + "x" * (5 + j)},),
               cost_usd=0.001 * (j + 1) if costs else None,
               latency_ms=100.0 * (len(models) - j) if costs else None)
        for i in range(prompts) for j, m in enumerate(models)
    ]
    verdicts = []
    for i, (a, b) in itertools.product(range(prompts), itertools.combinations(models, 2)):
        p_a = 1 / (1 + math.exp(strengths[b] - strengths[a]))
        for who in (*raters, *judges):
            outcome = "a" if rng.random() < p_a else "b"
            verdicts.append(ImportedVerdict(
                f"q{i}", a, b, outcome, who,  # type: ignore[arg-type]
                source="judge" if who in judges else "human",
                left_side="a" if rng.random() < 0.5 else "b"))
    return TaskBundle(TaskConfig(name=name, title=name.upper()), prompt_rows, outputs, verdicts)
