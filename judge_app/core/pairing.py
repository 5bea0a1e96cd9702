"""Which pairs a task compares, and which pair a rater judges next.

Everything here is deterministic given its seed, so a page rerun or a restart never
reshuffles what a rater sees.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterable, Mapping

from judge_app.core.ids import pair_id
from judge_app.core.types import AssignmentPurpose, Pair, Side, TaskConfig


def generate_pairs(
    task_id: str, config: TaskConfig, models_by_prompt: Mapping[str, Iterable[str]]
) -> list[Pair]:
    """The pairs of a task from its design, each in canonical order (model_a < model_b)."""
    pairs: list[Pair] = []
    for prompt_id, models in models_by_prompt.items():
        ordered = sorted(set(models))
        if config.design == "baseline":
            if config.baseline not in ordered:
                continue
            combos = [tuple(sorted((config.baseline, m))) for m in ordered if m != config.baseline]
        else:
            combos = list(itertools.combinations(ordered, 2))
        for model_a, model_b in combos:
            pairs.append(
                Pair(pair_id(task_id, prompt_id, model_a, model_b), prompt_id, model_a, model_b)
            )
    if config.design == "sampled" and config.budget is not None and config.budget < len(pairs):
        pairs = _balanced_sample(pairs, config.budget, config.seed)
    return pairs


def _balanced_sample(pairs: list[Pair], budget: int, seed: int) -> list[Pair]:
    """Sample so every model pairing gets a near-equal share of the budget."""
    rng = random.Random(seed)
    by_matchup: dict[tuple[str, str], list[Pair]] = {}
    for p in pairs:
        by_matchup.setdefault((p.model_a, p.model_b), []).append(p)
    queues = []
    for key in sorted(by_matchup):
        group = by_matchup[key][:]
        rng.shuffle(group)
        queues.append(group)
    chosen: list[Pair] = []
    while len(chosen) < budget:
        for queue in queues:
            if queue and len(chosen) < budget:
                chosen.append(queue.pop())
    return sorted(chosen, key=lambda p: p.pair_id)


def _unit(*parts: object) -> float:
    """A reproducible number in [0, 1) from its parts."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_left_side(seed: int, rater_id: str, pair_id_: str, purpose: AssignmentPurpose
                     ) -> Side:
    """Left/right order, decided once when the assignment is made (then stored)."""
    return "a" if _unit(seed, rater_id, pair_id_, purpose, "left") < 0.5 else "b"


def choose_next_pair(
    assigned_counts: Mapping[str, int],
    judged_by_rater: set[str],
    overlap: int,
    rater_id: str,
    seed: int = 0,
) -> str | None:
    """The pair with the fewest assignments that this rater has not had, below the overlap target.

    Ties are broken by a per-rater hash, so raters working at once spread over different pairs.
    """
    best: tuple[int, float, str] | None = None
    for pid, count in assigned_counts.items():
        if count >= overlap or pid in judged_by_rater:
            continue
        key = (count, _unit(seed, rater_id, pid), pid)
        if best is None or key < best:
            best = key
    return best[2] if best else None


def draw_purpose(
    config: TaskConfig, rater_id: str, items_done: int, *, gold_available: bool,
    retest_available: bool,
) -> AssignmentPurpose:
    """Mix gold pairs and swap re-tests in at the task's rates, reproducibly per rater."""
    # "kind" is the salt the draws have always used: keep it, or queues would change.
    roll = _unit(config.seed, rater_id, items_done, "kind")
    if gold_available and roll < config.gold_rate:
        return "gold"
    if retest_available and items_done > 0 and roll < config.gold_rate + config.retest_rate:
        return "retest"
    return "normal"


def purposes_in_reach(config: TaskConfig, rater_id: str, items_done: int) -> tuple[bool, bool]:
    """Whether this draw could give a gold pair, and a swapped re-test: draw_purpose's roll is
    known before any candidate is looked up, so the lookups it cannot use are skipped."""
    roll = _unit(config.seed, rater_id, items_done, "kind")
    gold = config.gold_rate > 0 and roll < config.gold_rate
    retest = (config.retest_rate > 0 and items_done > 0
              and roll < config.gold_rate + config.retest_rate)
    return gold, retest
