"""Adaptive scheduling measured by simulation (small version of benchmarks/bench_adaptive.py).

Known strengths, the app's own fit, intervals and planner; fixed seeds, so the figures are
the same on every run, and the margins are wide enough for another numpy's random streams.
"""

from __future__ import annotations

import statistics

import numpy as np

from tests.adaptive_sim import realistic_thetas, simulate

MODELS = 8
SEEDS = 8


def test_adaptive_needs_far_fewer_votes_to_settle_the_ranking() -> None:
    uniform, adaptive = [], []
    for seed in range(SEEDS):
        theta = realistic_thetas(MODELS, seed, min_gap=20.0, mean_extra_gap=40.0)
        u = simulate(theta, "uniform", seed)
        a = simulate(theta, "adaptive", seed)
        assert u.votes_to_target is not None and a.votes_to_target is not None
        uniform.append(u.votes_to_target)
        adaptive.append(a.votes_to_target)
    # Measured: medians 8,923 vs 2,720 (70% fewer); the issue asks for at least 30%.
    assert statistics.median(adaptive) <= 0.6 * statistics.median(uniform)
    saved = [1 - a / u for u, a in zip(uniform, adaptive, strict=True)]
    assert statistics.median(saved) >= 0.4
    assert sum(s > 0 for s in saved) >= SEEDS - 2


def test_intervals_cover_under_adaptive_sampling() -> None:
    """Pairs chosen from earlier votes: the sandwich intervals still cover at about 95%."""
    at_end, pairs = [], []
    for seed in range(20):
        theta = realistic_thetas(MODELS, 500 + seed, min_gap=20.0, mean_extra_gap=40.0)
        r = simulate(theta, "adaptive", 500 + seed, run_on=True, max_votes=6_000,
                     growth=0.1)
        at_end.append(r.covered[-1])
        pairs.append(r.covered_pairs[-1])
    # Measured: 96.9% of model intervals and 95.7% of difference intervals cover (8 models,
    # 20 seeds at 6,000 votes); the full benchmark has the 20-model, 50-seed figures.
    assert 0.90 <= float(np.mean(at_end)) <= 0.99
    assert 0.90 <= float(np.mean(pairs)) <= 0.99
