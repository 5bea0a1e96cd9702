"""Judge configs: one TOML file says which model judges, how it is asked and what it may spend.

The file names the environment variable that holds the API key, never the key. The config
hash covers everything that changes an answer (model, endpoint, template text, answer format,
sampling settings) and nothing that does not (key, prices, limits), so editing a price
re-runs nothing and editing a template re-runs what it affects.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from judge_app.core.redact import redact_url, url_secrets
from judge_app.core.terminal import has_control
from judge_app.core.verdict_parsing import ANSWER_FORMATS, AnswerFormat
from judge_app.errors import ValidationError
from judge_app.judges.prompt import unknown_placeholders, used_placeholders

OrderMode = Literal["both", "random-once", "fixed"]
ORDER_MODES: tuple[OrderMode, ...] = ("both", "random-once", "fixed")
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
DEFAULT_CRITERIA = "helpfulness, correctness, relevance, depth and clarity"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RENDER_VERSION = 1  # bump when prompt rendering changes, so cached answers are not reused


class EndpointSettings:
    """Where a config sends its calls and with which key: shared by judge configs and model
    configs (judges/model_config.py), which both carry `name`, `base_url`, `api_key_env`
    and `file`."""

    name: str
    base_url: str | None
    api_key_env: str
    file: str

    def endpoint(self, environ: Mapping[str, str] | None = None) -> str:
        """base_url, else OPENAI_BASE_URL, else OpenAI's own, as the openai package does."""
        env = os.environ if environ is None else environ
        url = self.base_url or env.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_URL
        return url.rstrip("/")

    def shown_endpoint(self, environ: Mapping[str, str] | None = None) -> str:
        """The endpoint as it may be printed or stored: credentials in it masked."""
        return redact_url(self.endpoint(environ))

    def secrets(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Values that must never be stored or shown: the key, and credentials in the URL."""
        env = os.environ if environ is None else environ
        key = env.get(self.api_key_env, "")
        return [key, *url_secrets(self.endpoint(env))] if key else url_secrets(
            self.endpoint(env))

    def api_key(self, environ: Mapping[str, str] | None = None) -> str:
        """The key from the named variable; local servers that need none get a placeholder."""
        env = os.environ if environ is None else environ
        key = env.get(self.api_key_env, "")
        if key:
            return key
        if self.endpoint(env) == OPENAI_DEFAULT_URL:
            raise ValidationError(
                f"'{self.name}' calls OpenAI but ${self.api_key_env} is not set",
                file=self.file or None, field="api_key_env")
        return "not-needed"


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """A TOML file's table; every failure a ValidationError naming the file."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(f"{what} not found", file=str(path)) from None
    except IsADirectoryError:
        raise ValidationError(f"expected a {what} file, found a folder",
                              file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ValidationError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                              file=str(path)) from None
    except OSError as exc:
        raise ValidationError(f"cannot read the {what}: {exc.strerror or exc}",
                              file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"not valid TOML: {exc}", file=str(path)) from None


@dataclass(frozen=True)
class JudgeConfig(EndpointSettings):
    name: str  # the judge's rater_id (the file's key is `name`)
    model: str
    system: str
    user: str
    template: str = "custom"  # built-in template name, or 'custom'
    format: AnswerFormat = "labels"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    criteria: str = DEFAULT_CRITERIA
    temperature: float = 0.0
    max_tokens: int = 1024
    logprobs: bool = False
    top_logprobs: int = 5
    order: OrderMode = "both"
    seed: int = 0  # for order = random-once
    input_price_per_million: float = 0.0
    output_price_per_million: float = 0.0
    # Batch API prices; unset: half the prices above (services/batches.batch_prices)
    batch_input_price_per_million: float | None = None
    batch_output_price_per_million: float | None = None
    concurrency: int = 8
    rpm: int | None = None
    tpm: int | None = None
    timeout_s: float = 120.0
    retries: int = 6
    file: str = field(default="", compare=False)  # the file it came from

    @property
    def rater_id(self) -> str:
        """The judge's name: its rater id in verdicts, judge runs and escalations."""
        return self.name

    @property
    def needs_reference(self) -> bool:
        return "reference" in used_placeholders(self.system, self.user)

    def answer_settings(self, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Everything that changes what the judge answers; the cache key is built on it."""
        return {
            "render_version": RENDER_VERSION, "model": self.model,
            "endpoint": self.endpoint(environ), "system": self.system, "user": self.user,
            "criteria": self.criteria, "format": self.format, "temperature": self.temperature,
            "max_tokens": self.max_tokens, "logprobs": self.logprobs,
            "top_logprobs": self.top_logprobs if self.logprobs else None,
        }

    def config_hash(self, environ: Mapping[str, str] | None = None) -> str:
        """Covers the endpoint unredacted (so two endpoints differing only in a credential
        stay apart); a sha256 reveals nothing of it."""
        blob = json.dumps(self.answer_settings(environ), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """The config as stored with a judge run (no key: only the variable's name; the
        base_url with any credentials in it masked)."""
        described = asdict(self)
        if self.base_url:
            described["base_url"] = redact_url(self.base_url)
        return described


# ---------------------------------------------------------------- templates

def builtin_templates() -> list[str]:
    folder = resources.files("judge_app.judges") / "templates"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir()
                  if p.name.endswith(".toml"))


def load_template(name: str, *, file: str | None = None) -> dict[str, Any]:
    """A built-in template's system, user and format."""
    if name not in builtin_templates():
        raise ValidationError(
            f"unknown template {name!r}; built-in: {', '.join(builtin_templates())}",
            file=file, field="template")
    text = (resources.files("judge_app.judges") / "templates" / f"{name}.toml").read_text()
    return tomllib.loads(text)


# ---------------------------------------------------------------- loading

_FIELDS = {
    "name": str, "model": str, "template": str, "system": str, "user": str, "format": str,
    "base_url": str, "api_key_env": str, "criteria": str, "temperature": float,
    "max_tokens": int, "logprobs": bool, "top_logprobs": int, "order": str, "seed": int,
    "input_price_per_million": float, "batch_input_price_per_million": float,
    "batch_output_price_per_million": float, "output_price_per_million": float,
    "concurrency": int, "rpm": int, "tpm": int, "timeout_s": float, "retries": int,
}


def load_config(path: str | Path) -> JudgeConfig:
    return parse_config(read_toml(path, "judge config"), file=str(path))


def checked_settings(data: Mapping[str, Any], fields: Mapping[str, type], *,
                     file: str | None) -> dict[str, Any]:
    """An endpoint config's settings, typed (an int where a float is asked for becomes one).
    What every endpoint config refuses, judge or model alike: an unknown key, a wrong type, a
    missing name or model or one with control characters, and a key where the name of its
    environment variable belongs. Every error names the file and the field."""

    def bad(message: str, name: str) -> ValidationError:
        return ValidationError(message, file=file, field=name)

    values: dict[str, Any] = {}
    for key, value in data.items():
        kind = fields.get(key)
        if kind is None:
            raise bad(f"unknown setting {key!r}", key)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise bad(f"must be a {kind.__name__}, got {type(value).__name__}", key)
        values[key] = value
    for key in ("name", "model"):
        if not str(values.get(key, "")).strip():
            raise bad("is required", key)
        if has_control(values[key]):
            raise bad("must not contain control characters", key)
    if not _ENV_NAME.match(values.get("api_key_env", "OPENAI_API_KEY")):
        raise bad("must be the name of an environment variable (never the key itself)",
                  "api_key_env")
    return values


def parse_config(data: Mapping[str, Any], *, file: str | None = None) -> JudgeConfig:
    """Validate a config mapping; every error names the file and the field."""

    def bad(message: str, name: str) -> ValidationError:
        return ValidationError(message, file=file, field=name)

    values = checked_settings(data, _FIELDS, file=file)

    template_name = values.pop("template", None)
    if template_name is not None:
        tpl = load_template(template_name, file=file)
        values.setdefault("system", tpl.get("system", ""))
        values.setdefault("user", tpl["user"])
        if values.setdefault("format", tpl["format"]) != tpl["format"]:
            raise bad(f"template {template_name!r} asks for format {tpl['format']!r}", "format")
        if "system" in data or "user" in data:
            template_name = f"{template_name}+custom"
    elif "user" not in values:
        raise bad("give a built-in 'template' or your own 'user' template", "user")
    values["template"] = template_name or "custom"

    _check_choices(values, bad)
    _check_templates(values, bad)
    _check_numbers(values, bad)
    return JudgeConfig(file=file or "", **values)


def _check_choices(values: dict[str, Any], bad: Any) -> None:
    if values.get("format", "labels") not in ANSWER_FORMATS:
        raise bad(f"must be one of {', '.join(ANSWER_FORMATS)}", "format")
    if values.get("order", "both") not in ORDER_MODES:
        raise bad(f"must be one of {', '.join(ORDER_MODES)}", "order")
    if values.get("logprobs") and values.get("format", "labels") == "five-level":
        raise bad("log-probabilities need format 'labels' or 'json' (one verdict token)",
                  "logprobs")


def _check_templates(values: dict[str, Any], bad: Any) -> None:
    for key in ("system", "user"):
        unknown = unknown_placeholders(values.get(key, ""))
        if unknown:
            raise bad(f"unknown placeholder {{{unknown[0]}}}; use {{conversation}}, "
                      "{response_a}, {response_b}, {reference} or {criteria}", key)
    used = used_placeholders(values.get("system", ""), values["user"])
    for needed in ("response_a", "response_b"):
        if needed not in used:
            raise bad(f"the templates never show {{{needed}}}", "user")


def _check_numbers(values: dict[str, Any], bad: Any) -> None:
    checks = {
        "temperature": (0.0, 2.0), "max_tokens": (1, 1_000_000), "top_logprobs": (1, 20),
        "input_price_per_million": (0.0, 1e6), "output_price_per_million": (0.0, 1e6),
        "batch_input_price_per_million": (0.0, 1e6), "batch_output_price_per_million": (0.0, 1e6),
        "concurrency": (1, 1024), "rpm": (1, 10**9), "tpm": (1, 10**12),
        "timeout_s": (0.001, 86400.0), "retries": (0, 100), "seed": (0, 2**32 - 1),
    }
    for key, (low, high) in checks.items():
        if key in values and not low <= values[key] <= high:
            raise bad(f"must be between {low:g} and {high:g}", key)
