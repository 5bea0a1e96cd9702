"""Model configs: an answering model behind an OpenAI-compatible endpoint, read from TOML.

The counterpart of a judge config (judges/config.py) for `judge-app generate`: same endpoint,
key and limit settings, read and checked the same way (every error names the file and the
field). `name` is the model's name in the task: its outputs are stored under it. The config
hash covers what changes the answer (model, endpoint, system prompt, sampling settings) and
nothing that does not (name, key, prices, limits), so a new price re-pays nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from judge_app.core.redact import redact_url
from judge_app.errors import ValidationError
from judge_app.judges.config import EndpointSettings, checked_settings, read_toml

GENERATION_VERSION = 1  # bump when the messages sent change shape, so caches are not reused


@dataclass(frozen=True)
class ModelConfig(EndpointSettings):
    name: str  # the model's name in the task (outputs' `model`)
    model: str  # the endpoint's model id, as sent in each request
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    system: str = ""  # a system prompt put before every conversation ("" for none)
    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int | None = None  # sent as the request's seed, when set
    stream: bool = True  # stream answers (needed for time to first token)
    input_price_per_million: float = 0.0
    output_price_per_million: float = 0.0
    # Batch API prices; unset: half the prices above (services/batches.batch_prices)
    batch_input_price_per_million: float | None = None
    batch_output_price_per_million: float | None = None
    concurrency: int = 8
    rpm: int | None = None
    tpm: int | None = None
    timeout_s: float = 300.0
    retries: int = 6
    file: str = field(default="", compare=False)

    def request_settings(self) -> dict[str, Any]:
        """The settings sent with every request, as stored with each output."""
        settings: dict[str, Any] = {"model": self.model, "temperature": self.temperature,
                                    "max_tokens": self.max_tokens, "stream": self.stream}
        if self.seed is not None:
            settings["seed"] = self.seed
        if self.system:
            settings["system"] = self.system
        return settings

    def answer_settings(self, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Everything that changes the answer; the cache key is built on it."""
        return {"generation_version": GENERATION_VERSION, "endpoint": self.endpoint(environ),
                "model": self.model, "system": self.system, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "seed": self.seed}

    def config_hash(self, environ: Mapping[str, str] | None = None) -> str:
        """sha256 of answer_settings (the endpoint unredacted: it reveals nothing)."""
        blob = json.dumps(self.answer_settings(environ), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """The config as stored with a generation run: no key, credentials in the URL masked."""
        described = asdict(self)
        if self.base_url:
            described["base_url"] = redact_url(self.base_url)
        return described


_FIELDS: dict[str, type] = {
    "name": str, "model": str, "base_url": str, "api_key_env": str, "system": str,
    "temperature": float, "max_tokens": int, "seed": int, "stream": bool,
    "input_price_per_million": float, "batch_input_price_per_million": float,
    "batch_output_price_per_million": float, "output_price_per_million": float, "concurrency": int,
    "rpm": int, "tpm": int, "timeout_s": float, "retries": int,
}
_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0), "max_tokens": (1, 1_000_000), "seed": (0, 2**63 - 1),
    "input_price_per_million": (0.0, 1e6), "output_price_per_million": (0.0, 1e6),
    "batch_input_price_per_million": (0.0, 1e6), "batch_output_price_per_million": (0.0, 1e6),
    "concurrency": (1, 1024), "rpm": (1, 10**9), "tpm": (1, 10**12),
    "timeout_s": (0.001, 86400.0), "retries": (0, 100),
}


def load_model_config(path: str | Path) -> ModelConfig:
    return parse_model_config(read_toml(path, "model config"), file=str(path))


def parse_model_config(data: Mapping[str, Any], *, file: str | None = None) -> ModelConfig:
    """Validate a model config mapping; every error names the file and the field."""

    def bad(message: str, name: str) -> ValidationError:
        return ValidationError(message, file=file, field=name)

    values = checked_settings(data, _FIELDS, file=file)
    for key, (low, high) in _RANGES.items():
        if key in values and not low <= values[key] <= high:
            raise bad(f"must be between {low:g} and {high:g}", key)
    return ModelConfig(file=file or "", **values)
