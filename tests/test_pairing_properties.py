"""Property tests for pair generation and the choice of the next pair."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from judge_app.core.pairing import (
    choose_left_side,
    choose_next_pair,
    draw_purpose,
    generate_pairs,
)
from judge_app.core.types import TaskConfig

models = st.lists(st.sampled_from(["m1", "m2", "m3", "m4", "m5"]), min_size=1, max_size=5,
                  unique=True)
tasks = st.dictionaries(st.text("abcdef", min_size=1, max_size=4), models, min_size=1,
                        max_size=8)


@given(tasks)
def test_all_pairs_are_every_combination_once_in_canonical_order(by_prompt: dict) -> None:
    pairs = generate_pairs("t", TaskConfig(name="t"), by_prompt)
    expected = sum(len(list(itertools.combinations(set(m), 2))) for m in by_prompt.values())
    assert len(pairs) == expected == len({p.pair_id for p in pairs})
    assert all(p.model_a < p.model_b for p in pairs)


@given(tasks)
def test_baseline_design_always_includes_the_baseline(by_prompt: dict) -> None:
    pairs = generate_pairs("t", TaskConfig(name="t", design="baseline", baseline="m1"), by_prompt)
    assert all("m1" in (p.model_a, p.model_b) for p in pairs)
    assert len(pairs) == sum(len(m) - 1 for m in by_prompt.values() if "m1" in m)


@given(tasks, st.integers(0, 30), st.integers(0, 5))
def test_sampled_design_respects_budget_and_is_reproducible(by_prompt: dict, budget: int,
                                                            seed: int) -> None:
    config = TaskConfig(name="t", design="sampled", budget=budget, seed=seed)
    everything = generate_pairs("t", TaskConfig(name="t"), by_prompt)
    sample = generate_pairs("t", config, by_prompt)
    assert len(sample) == min(budget, len(everything))
    assert sample == generate_pairs("t", config, by_prompt)
    assert {p.pair_id for p in sample} <= {p.pair_id for p in everything}


@settings(max_examples=60)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(2, 25), st.integers(0, 3))
def test_queue_simulation_never_repeats_and_honours_overlap(
    overlap: int, raters: int, n_pairs: int, seed: int,
) -> None:
    counts = {f"p{i}": 0 for i in range(n_pairs)}
    judged: dict[str, set[str]] = {f"r{k}": set() for k in range(raters)}
    progress = True
    while progress:
        progress = False
        for rater, done in judged.items():
            choice = choose_next_pair(counts, done, overlap, rater, seed)
            if choice is None:
                continue
            # Fewest-covered first among what this rater may still take.
            allowed = [n for p, n in counts.items() if p not in done and n < overlap]
            assert counts[choice] == min(allowed)
            assert choice not in done
            done.add(choice)
            counts[choice] += 1
            progress = True
    assert all(n == min(overlap, raters) for n in counts.values())


@given(st.integers(0, 100), st.text(min_size=1, max_size=5), st.text(min_size=1, max_size=5))
def test_left_side_is_fixed_by_its_inputs(seed: int, rater: str, pair: str) -> None:
    side = choose_left_side(seed, rater, pair, "normal")
    assert side in ("a", "b") and side == choose_left_side(seed, rater, pair, "normal")


def test_left_side_is_balanced_over_many_pairs() -> None:
    sides = [choose_left_side(0, "r", f"p{i}", "normal") for i in range(4000)]
    assert 0.46 < sides.count("a") / len(sides) < 0.54


def test_gold_and_retest_rates_are_close_to_configured() -> None:
    config = TaskConfig(name="t", gold_rate=0.1, retest_rate=0.05)
    purposes = [draw_purpose(config, "r", i, gold_available=True, retest_available=True)
             for i in range(1, 5001)]
    assert abs(purposes.count("gold") / 5000 - 0.1) < 0.02
    assert abs(purposes.count("retest") / 5000 - 0.05) < 0.015
