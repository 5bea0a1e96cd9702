"""Verdicts from known strengths by a crowd with careless raters, for tests and the benchmark."""

from __future__ import annotations

import itertools
import math
from typing import Literal

import numpy as np
import pandas as pd

from judge_app.core.types import ImportedVerdict, Output, Prompt, TaskBundle, TaskConfig


def simulate_crowd(
    theta: np.ndarray,
    votes: int,
    raters: int,
    *,
    seed: int,
    random_share: float = 0.2,
    left_share: float = 0.1,
    tie_share: float = 0.0,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """One row per verdict: a random rater, a random pair of distinct models, a random left
    side. The first `random_share` of the raters answer at random, the next `left_share`
    always pick the left side, the rest follow Bradley-Terry on `theta` (a share `tie_share`
    of their votes are ties). Returns the frame (rater_id, source, model_a, model_b,
    left_side, outcome) and each rater's kind (careful, random, left)."""
    rng = np.random.default_rng(seed)
    m = len(theta)
    names = np.array([f"model-{i:03d}" for i in range(m)])
    n_random, n_left = round(random_share * raters), round(left_share * raters)
    kind = np.array(["random"] * n_random + ["left"] * n_left
                    + ["careful"] * (raters - n_random - n_left))
    who = rng.integers(0, raters, votes)
    a = rng.integers(0, m, votes)
    b = (a + rng.integers(1, m, votes)) % m
    left_a = rng.random(votes) < 0.5
    follows = rng.random(votes) < 1 / (1 + np.exp(-(theta[a] - theta[b])))
    coin = rng.random(votes) < 0.5
    k = kind[who]
    picks_a = np.where(k == "careful", follows, np.where(k == "left", left_a, coin))
    outcome = np.where(picks_a, "a", "b").astype(object)
    outcome[(k == "careful") & (rng.random(votes) < tie_share)] = "tie"
    rater_names = np.array([f"rater-{i:03d}" for i in range(raters)])
    frame = pd.DataFrame({
        "rater_id": rater_names[who], "source": "human", "model_a": names[a],
        "model_b": names[b], "left_side": np.where(left_a, "a", "b"), "outcome": outcome,
    })
    return frame, dict(zip(rater_names.tolist(), kind.tolist(), strict=True))


CROWD_STRENGTHS = {"top": 1.2, "good": 0.6, "fair": 0.0, "weak": -0.6, "poor": -1.2}
CROWD_RATERS = {"careful-1": "careful", "careful-2": "careful", "careful-3": "careful",
                "careful-4": "careful", "careful-5": "careful", "clicker": "left",
                "coin": "random", "judge-good": "careful", "judge-left": "left"}


def crowd_bundle(name: str = "crowd", prompts: int = 30, seed: int = 0) -> TaskBundle:
    """A task where every rater judges every pair of every prompt, sides at random: five
    careful people, one who always clicks left, one who flips a coin, a judge that follows
    the strengths and a judge that always picks the first answer it is shown."""
    rng = np.random.default_rng(seed)
    models = sorted(CROWD_STRENGTHS)
    prompt_rows = [Prompt(f"q{i}", ({"role": "user", "content": f"question {i}"},))
                   for i in range(prompts)]
    outputs = [Output(f"q{i}", m, ({"role": "assistant", "content": f"{m} answers {i}"},))
               for i in range(prompts) for m in models]
    verdicts = []
    for i, (a, b) in itertools.product(range(prompts), itertools.combinations(models, 2)):
        p_a = 1 / (1 + math.exp(CROWD_STRENGTHS[b] - CROWD_STRENGTHS[a]))
        for rater, kind in CROWD_RATERS.items():
            left: Literal["a", "b"] = "a" if rng.random() < 0.5 else "b"
            picks_a = {"careful": rng.random() < p_a, "left": left == "a",
                       "random": rng.random() < 0.5}[kind]
            verdicts.append(ImportedVerdict(
                f"q{i}", a, b, "a" if picks_a else "b", rater,
                source="judge" if rater.startswith("judge") else "human", left_side=left))
    return TaskBundle(TaskConfig(name=name, title=name.upper()), prompt_rows, outputs, verdicts)
