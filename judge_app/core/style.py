"""Style control as Chatbot Arena does it: ratings with length and markdown held equal.

The Bradley-Terry logit gets covariates, one per style feature: the normalised difference
(x_a - x_b) / (x_a + x_b + 1), standardised over the battles. The model coefficients are
then ratings "net of style", and the feature coefficients say how much a rater (or judge)
rewards length, headers, lists and bold text. Length is in characters (no tokenizer needed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from judge_app.core.bradley_terry import RatingFit, fit_bradley_terry, scatter, solvable
from judge_app.core.counts import FloatArray, count_battles
from judge_app.core.threads import single_threaded_blas
from judge_app.errors import ValidationError

STYLE_FEATURES: tuple[str, ...] = ("len", "header", "list", "bold")

_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_HEADER = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
_MODEL_A_SCORE = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}


def style_counts(text: str) -> dict[str, int]:
    """Length in characters, and markdown headers, list items and bold spans outside code."""
    prose = _CODE_BLOCK.sub("", text)
    return {
        "len": len(text),
        "header": len(_HEADER.findall(prose)),
        "list": len(_LIST_ITEM.findall(prose)),
        "bold": len(_BOLD.findall(prose)),
    }


def add_style_features(
    battles: pd.DataFrame, text_a: str = "text_a", text_b: str = "text_b",
) -> pd.DataFrame:
    """A copy of `battles` with `len_a`, `len_b`, `header_a`, ... computed from two text columns."""
    out = battles.copy()
    for side, column in (("a", text_a), ("b", text_b)):
        counts = pd.DataFrame([style_counts(str(t)) for t in battles[column]], index=battles.index)
        for name in STYLE_FEATURES:
            out[f"{name}_{side}"] = counts[name] if len(counts) else pd.Series(dtype=np.int64)
    return out


@dataclass(frozen=True, eq=False)
class StyleFit:
    """Style-controlled theta (mean zero over rated models) next to the raw fit."""

    models: tuple[str, ...]
    theta: FloatArray
    rated: np.ndarray
    covariance: FloatArray  # of theta, models x models (NaN for unrated)
    coefficients: pd.Series  # per feature, logit change per standard deviation of the feature
    coefficient_se: pd.Series
    raw: RatingFit


@single_threaded_blas()
def fit_style_controlled(
    battles: pd.DataFrame,
    *,
    features: Sequence[str] = STYLE_FEATURES,
    prior: float = 0.0,
    strong_weight: float = 1.0,
    models: Sequence[str] | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> StyleFit:
    """Bradley-Terry with style covariates (ties as half a win), with sandwich covariance.

    Needs columns `<feature>_a` and `<feature>_b` for each feature (see add_style_features);
    rows may stand for `n` identical battles. The rated models are those of the raw fit.
    """
    missing = [f"{f}_{s}" for f in features for s in "ab" if f"{f}_{s}" not in battles.columns]
    if missing:
        raise ValidationError(f"style control needs columns {missing}", field=missing[0])
    counts = count_battles(battles, models=models, strong_weight=strong_weight)
    raw = fit_bradley_terry(counts, prior=prior)
    index = pd.Index(counts.models)
    ia_all = index.get_indexer(pd.Index(battles["model_a"].astype(str)))
    ib_all = index.get_indexer(pd.Index(battles["model_b"].astype(str)))
    keep = raw.rated[ia_all] & raw.rated[ib_all] & (ia_all != ib_all)
    rows = battles[keep]
    rated_pos = np.cumsum(raw.rated) - 1  # model index -> position among rated models
    ia, ib = rated_pos[ia_all[keep]], rated_pos[ib_all[keep]]
    k = int(raw.rated.sum())

    n = _numbers(rows, "n", 1.0)
    weight = _numbers(rows, "weight", 1.0)
    if "strength" in rows.columns and strong_weight != 1.0:
        weight = np.where(_numbers(rows, "strength", 0.0) == 2, weight * strong_weight, weight)
    w, w_sq = n * weight, n * weight**2
    y = rows["outcome"].map(_MODEL_A_SCORE).to_numpy(dtype=np.float64)
    x, used = _design(rows, features, n)

    params = np.zeros(k + x.shape[1])
    params[:k] = raw.theta[raw.rated]
    for _ in range(max_iter):
        value, grad, info, _ = _terms(params, ia, ib, x, y, w, w_sq, k, prior)
        step = np.linalg.solve(solvable(info, k, prior), grad)
        scale = 1.0
        while scale > 1e-8 and _terms(params + scale * step, ia, ib, x, y, w, w_sq, k,
                                      prior)[0] < value - 1e-12 * abs(value):
            scale /= 2
        params = params + scale * step
        if np.max(np.abs(scale * step)) < tol:
            break
    _, _, info, meat = _terms(params, ia, ib, x, y, w, w_sq, k, prior)
    inverse = np.linalg.inv(solvable(info, k, prior))
    cov = inverse @ meat @ inverse

    m = len(counts.models)
    theta = np.full(m, np.nan)
    theta[raw.rated] = params[:k] - (params[:k].mean() if prior == 0 else 0.0)
    covariance = np.full((m, m), np.nan)
    covariance[np.ix_(raw.rated_index, raw.rated_index)] = cov[:k, :k]
    coef = pd.Series(np.nan, index=list(features), dtype=np.float64, name="coefficient")
    coef_se = pd.Series(np.nan, index=list(features), dtype=np.float64, name="se")
    coef[used] = params[k:]
    coef_se[used] = np.sqrt(np.diag(cov)[k:])
    return StyleFit(counts.models, theta, raw.rated, covariance, coef, coef_se, raw)


def _numbers(rows: pd.DataFrame, name: str, default: float) -> FloatArray:
    if name not in rows.columns:
        return np.full(len(rows), default)
    values = rows[name].to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isnan(values), default, values)


def _design(
    rows: pd.DataFrame, features: Sequence[str], n: FloatArray,
) -> tuple[FloatArray, list[str]]:
    """Standardised normalised differences; constant features are left out (no information)."""
    columns, used = [], []
    for name in features:
        a, b = _numbers(rows, f"{name}_a", 0.0), _numbers(rows, f"{name}_b", 0.0)
        if (a < 0).any() or (b < 0).any():
            raise ValidationError("style features must be non-negative", field=f"{name}_a")
        diff = (a - b) / (a + b + 1)
        mean = np.average(diff, weights=n) if n.sum() > 0 else 0.0
        std = np.sqrt(np.average((diff - mean) ** 2, weights=n)) if n.sum() > 0 else 0.0
        if std > 1e-12:
            columns.append((diff - mean) / std)
            used.append(name)
    x = np.column_stack(columns) if columns else np.zeros((len(rows), 0))
    return x, used


def _terms(
    params: FloatArray, ia: np.ndarray, ib: np.ndarray, x: FloatArray, y: FloatArray,
    w: FloatArray, w_sq: FloatArray, k: int, prior: float,
) -> tuple[float, FloatArray, FloatArray, FloatArray]:
    """Penalised log-likelihood, gradient, information and sandwich meat."""
    theta = params[:k]
    z = theta[ia] - theta[ib] + x @ params[k:]
    p = 1 / (1 + np.exp(-z))
    value = float(-(w * (y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))).sum())
    value -= prior / 2 * float(theta @ theta)
    residual = y - p
    grad = np.concatenate([scatter(k, ia, ib, w * residual) - prior * theta, x.T @ (w * residual)])
    info = _outer(ia, ib, x, w * p * (1 - p), k)
    info[:k, :k] += prior * np.eye(k)
    return value, grad, info, _outer(ia, ib, x, w_sq * residual**2, k)


def _outer(ia: np.ndarray, ib: np.ndarray, x: FloatArray, h: FloatArray, k: int) -> FloatArray:
    """Sum over battles of h * u u^T with u = (e_a - e_b, features)."""
    f = x.shape[1]
    out = np.zeros((k + f, k + f))
    pair = np.bincount(ia * k + ib, h, k * k).reshape(k, k)
    pair = pair + pair.T
    out[:k, :k] = np.diag(pair.sum(1)) - pair
    hx = h[:, None] * x
    for j in range(f):
        out[:k, k + j] = out[k + j, :k] = scatter(k, ia, ib, hx[:, j])
    out[k:, k:] = x.T @ hx
    return out
