"""The fast reliability fit reaches the optimum a slow, simple reference finds: the penalised
log-likelihood written out verdict by verdict from the module docstring's formula and
maximised by scipy's BFGS (exact gradients by complex steps), on small crowds with ties,
unknown sides and a rater who never saw the sides swapped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from judge_app.core import reliability as rel
from tests.reliability_sim import simulate_crowd


def _crowd(seed: int) -> pd.DataFrame:
    theta = np.random.default_rng(seed).normal(0, 1, 5)
    frame, _ = simulate_crowd(theta, 1500, 6, seed=seed, tie_share=0.15)
    frame.loc[::9, "left_side"] = None  # some verdicts with the side unknown
    unsided = frame["rater_id"] == "rater-005"
    frame.loc[unsided, "left_side"] = "a"  # never swapped: no position bias is fitted
    return frame


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _reference(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """theta (mean zero), reliability, guess_left and the maximum, from the verdicts."""
    models = sorted(set(frame["model_a"]) | set(frame["model_b"]))
    raters = sorted(frame["rater_id"].unique())
    k, nr = len(models), len(raters)
    ia = frame["model_a"].map(models.index).to_numpy()
    ib = frame["model_b"].map(models.index).to_numpy()
    r = frame["rater_id"].map(raters.index).to_numpy()
    order = frame["left_side"].map({"a": 1.0, "b": -1.0}).fillna(0.0).to_numpy()
    swapped = pd.Series(order).groupby(r).agg(lambda o: (o > 0).any() and (o < 0).any())
    order = np.where(swapped.to_numpy()[r], order, 0.0)
    share = frame["outcome"].map({"a": 1.0, "b": 0.0, "tie": 0.5}).to_numpy()
    mu = np.log(rel.RELIABILITY_PRIOR_MEAN / (1 - rel.RELIABILITY_PRIOR_MEAN))

    def penalised(x: np.ndarray) -> np.ndarray:
        theta, a, b = x[:k], x[k:k + nr], x[k + nr:]
        eta, lam = _sigmoid(a)[r], _sigmoid(b)[r]
        q = 0.5 + order * (lam - 0.5)
        p = eta * _sigmoid(theta[ia] - theta[ib]) + (1 - eta) * q
        return np.asarray((share * np.log(p) + (1 - share) * np.log(1 - p)).sum()
                          - rel.THETA_PRIOR / 2 * (theta**2).sum()
                          - ((a - mu) ** 2).sum() / (2 * rel.RELIABILITY_PRIOR_SD**2)
                          - (b**2).sum() / (2 * rel.BIAS_PRIOR_SD**2))

    def gradient(x: np.ndarray) -> np.ndarray:
        step = 1e-20 * np.eye(len(x))
        return np.array([-penalised(x + 1j * e).imag / 1e-20 for e in step])

    x0 = np.concatenate([np.zeros(k), np.full(nr, mu), np.zeros(nr)])
    found = minimize(lambda x: -float(penalised(x).real), x0, jac=gradient, method="BFGS",
                     options={"gtol": 1e-9, "maxiter": 10_000})
    assert np.abs(gradient(found.x)).max() < 1e-6
    theta = found.x[:k] - found.x[:k].mean()
    return (theta, _sigmoid(found.x[k:k + nr]), _sigmoid(found.x[k + nr:]),
            float(-found.fun))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("warm_start_rows", [rel.WARM_START_ROWS, 30])
def test_fit_reaches_the_reference_optimum(
    seed: int, warm_start_rows: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Default tolerance: the same maximum to 1e-6 relative; tight tolerance: the same
    parameters to 1e-5. With 30 warm-start rows the fit goes through its warm start on a
    share of the rows (every 3rd) first."""
    monkeypatch.setattr(rel, "WARM_START_ROWS", warm_start_rows)
    frame = _crowd(seed)
    theta, eta, lam, best = _reference(frame)
    counts = rel.rater_counts(frame)
    fit = rel.fit_reliability(counts)
    assert fit.converged and abs(fit.loglik - best) <= 1e-6 * abs(best)
    tight = rel.fit_reliability(counts, tol=1e-12)
    assert tight.converged
    assert np.abs(tight.theta - theta).max() < 1e-5
    assert np.abs(tight.reliability - eta).max() < 1e-5
    unsided = np.array(tight.raters) == "rater-005"
    assert np.abs(tight.guess_left - lam)[~unsided].max() < 1e-5
    assert tight.guess_left[unsided].tolist() == [0.5]  # and the reference's stays at 0.5
    assert np.allclose(lam[unsided], 0.5, atol=1e-6)
    assert abs(tight.loglik - best) <= 1e-9 * abs(best)
