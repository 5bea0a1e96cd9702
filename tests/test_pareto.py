"""The quality-versus-cost frontier against a brute-force definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from judge_app.core.pareto import pareto_front


def brute_force(cost: list[float], quality: list[float]) -> list[bool]:
    def dominated(i: int) -> bool:
        return any(
            cost[j] <= cost[i] and quality[j] >= quality[i]
            and (cost[j] < cost[i] or quality[j] > quality[i])
            for j in range(len(cost)) if not (math.isnan(cost[j]) or math.isnan(quality[j]))
        )
    return [not (math.isnan(cost[i]) or math.isnan(quality[i])) and not dominated(i)
            for i in range(len(cost))]


def test_known_frontier() -> None:
    cost = [1.0, 2.0, 3.0, 2.5, 0.5]
    quality = [1000.0, 1100.0, 1050.0, 1200.0, 900.0]
    assert pareto_front(cost, quality).tolist() == [True, True, False, True, True]


def test_missing_values_and_duplicates() -> None:
    cost = [1.0, 1.0, float("nan"), 2.0]
    quality = [5.0, 5.0, 9.0, float("nan")]
    assert pareto_front(cost, quality).tolist() == [True, True, False, False]
    assert pareto_front([], []).tolist() == []


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError):
        pareto_front([1.0, 2.0], [1.0])


values = st.one_of(st.integers(0, 6).map(float), st.just(float("nan")))


@given(st.lists(st.tuples(values, values), max_size=30))
def test_matches_brute_force(points: list[tuple[float, float]]) -> None:
    cost = [p[0] for p in points]
    quality = [p[1] for p in points]
    assert pareto_front(np.array(cost), np.array(quality)).tolist() == brute_force(cost, quality)
