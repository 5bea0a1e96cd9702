"""Shared by the arena tests: a task whose [arena] points at the real fake OpenAI server."""

from __future__ import annotations

from typing import Any

from judge_app.core.types import TaskBundle, TaskConfig
from tests.conftest import make_bundle

ARENA_MODELS = ("zeta-arena-model", "omega-arena-model", "kappa-arena-model")


def arena_models(base_url: str, names: tuple[str, ...] = ARENA_MODELS[:2],
                 **settings: Any) -> list[dict[str, Any]]:
    """Model configs as task.toml's [arena] stores them (endpoint ids differ from names)."""
    return [{"name": name, "model": f"endpoint-id-{n}", "base_url": base_url,
             "input_price_per_million": 1.0, "output_price_per_million": 2.0,
             "max_tokens": 200, **settings} for n, name in enumerate(names)]


def arena_bundle(name: str, base_url: str, names: tuple[str, ...] = ARENA_MODELS[:2],
                 **arena: Any) -> TaskBundle:
    bundle = make_bundle(name, models=("m1", "m2"))
    config = TaskConfig(name=name, title=f"Task {name}", strength=True,
                        arena={"models": arena_models(base_url, names), **arena})
    return TaskBundle(config, bundle.prompts, bundle.outputs)
