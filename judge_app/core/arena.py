"""The live arena's rules, with no I/O: its settings, which two models answer next, and
whether an answer names its own model or vendor (services/arena.py does the calls and writes).

Pairs favour models with few battles: a model's chance to be drawn is its weight divided by
(1 + its battles) ** balance, so a model added late catches up; balance 0 draws by weight
alone. An answer that names its own model or vendor tells the rater which side is which: the
vote is kept but flagged, and ratings leave it out by default (as Chatbot Arena does).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from judge_app.errors import ValidationError

ARENA_CATEGORY = "arena"  # the category of every prompt a rater typed in the arena
CALLS_PER_BATTLE = 2
# Vendors named after a model id's family, for the self-identification check.
VENDORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gpt", ("OpenAI", "ChatGPT", "GPT")), ("o1", ("OpenAI",)), ("o3", ("OpenAI",)),
    ("claude", ("Anthropic", "Claude")), ("llama", ("Meta", "Llama")),
    ("gemini", ("Google", "Gemini")), ("gemma", ("Google", "Gemma")),
    ("mistral", ("Mistral",)), ("mixtral", ("Mistral", "Mixtral")),
    ("qwen", ("Alibaba", "Qwen")), ("deepseek", ("DeepSeek",)), ("phi", ("Microsoft",)),
    ("command", ("Cohere",)), ("grok", ("xAI", "Grok")),
)
SETTINGS_KEYS = ("models", "weights", "balance", "max_prompt_chars", "calls_per_hour",
                 "max_cost_usd", "vendors", "answer_timeout_s", "abandon_after_s")
# How long after answer_timeout_s a battle still 'answering' is taken as left by a server
# that died (unless abandon_after_s says otherwise): a live server has given up by then.
ABANDON_MARGIN_S = 60.0
ABANDONED = "abandoned"  # how the message of a battle given up this way begins


@dataclass(frozen=True)
class ArenaSettings:
    """A task's [arena] table, as stored with the task (models are model-config mappings)."""

    models: tuple[dict[str, Any], ...]
    weights: dict[str, float] = field(default_factory=dict)  # model name -> weight (1.0)
    balance: float = 1.0
    max_prompt_chars: int = 4000
    calls_per_hour: int = 40  # per rater; each battle makes two calls
    max_cost_usd: float | None = None  # the arena's budget cap for the task (None: none)
    vendors: dict[str, list[str]] = field(default_factory=dict)  # model name -> extra names
    answer_timeout_s: float = 300.0  # one turn's two answers, retries included
    abandon_after_s: float | None = None  # None: answer_timeout_s + ABANDON_MARGIN_S

    @property
    def names(self) -> list[str]:
        return [str(m["name"]) for m in self.models]

    @property
    def abandoned_after_s(self) -> float:
        """Seconds after its turn began that a battle still answering is given up."""
        if self.abandon_after_s is not None:
            return float(self.abandon_after_s)
        return float(self.answer_timeout_s) + ABANDON_MARGIN_S


def arena_settings(data: Mapping[str, Any] | None) -> ArenaSettings | None:
    """The stored [arena] mapping as settings; None when the task has no arena."""
    if not data:
        return None
    values = {k: v for k, v in data.items() if k in SETTINGS_KEYS}
    values["models"] = tuple(dict(m) for m in values.get("models", ()))
    return ArenaSettings(**values)


def _number(value: Any) -> bool:
    """A finite int or float (TOML's true, nan and inf are not numbers here)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def check_settings(settings: ArenaSettings, field_prefix: str = "arena.") -> None:
    """The rules task.toml's [arena] must follow (each error names its key)."""
    def bad(message: str, key: str) -> ValidationError:
        return ValidationError(message, field=field_prefix + key)

    names = settings.names
    if len(names) < 2:
        raise bad("the arena needs at least two model configs", "models")
    if len(set(names)) != len(names):
        raise bad("two model configs have the same name", "models")
    for key in ("weights", "vendors"):
        if not isinstance(getattr(settings, key), dict):
            raise bad("a table of model name = value, e.g. { small = 2.0 }", key)
    for name, weight in settings.weights.items():
        if name not in names:
            raise bad(f"{name!r} is not one of the arena's models ({', '.join(names)})",
                      "weights")
        if not _number(weight) or weight <= 0:
            raise bad(f"the weight of {name!r} must be a number above 0", "weights")
    for name, words in settings.vendors.items():
        if name not in names:
            raise bad(f"{name!r} is not one of the arena's models ({', '.join(names)})",
                      "vendors")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise bad(f"the names for {name!r} must be a list of strings", "vendors")
    limits: list[tuple[str, float, float, str]] = [
        ("balance", 0, 10, "a number between 0 (weights only) and 10"),
        ("max_prompt_chars", 1, 200_000, "a whole number of characters from 1 to 200000"),
        ("calls_per_hour", 1, 100_000, "a whole number from 1 to 100000"),
        ("answer_timeout_s", 1, 86_400, "a number of seconds from 1 to 86400"),
    ]
    for key, low, high, what in limits:
        value = getattr(settings, key)
        whole = key in ("max_prompt_chars", "calls_per_hour")
        if not _number(value) or (whole and not isinstance(value, int)) \
                or not low <= value <= high:
            raise bad(f"must be {what} (got {value!r})", key)
    if settings.max_cost_usd is not None and (not _number(settings.max_cost_usd)
                                              or settings.max_cost_usd < 0):
        raise bad(f"must be 0 or more (US dollars; got {settings.max_cost_usd!r})",
                  "max_cost_usd")
    if settings.abandon_after_s is not None and (
            not _number(settings.abandon_after_s)
            or settings.abandon_after_s <= settings.answer_timeout_s):
        raise bad(f"must be a number of seconds above answer_timeout_s "
                  f"({settings.answer_timeout_s:g}), or a live battle could be given up "
                  f"(got {settings.abandon_after_s!r})", "abandon_after_s")


def abandoned_before(settings: ArenaSettings, now: datetime) -> datetime:
    """A battle whose current turn began before this and is still answering was left by a
    server that died or hangs: a live one gives up after answer_timeout_s."""
    return now - timedelta(seconds=settings.abandoned_after_s)


def draw_pair(settings: ArenaSettings, battles: Mapping[str, int], rng: random.Random,
              ) -> tuple[str, str]:
    """Two different models, (left, right): one drawn with chance proportional to
    weight / (1 + battles) ** balance, then the other among the rest by the same rule.
    balance 0 with no weights draws uniformly."""
    names = settings.names

    def pick(pool: Sequence[str]) -> str:
        chances = [float(settings.weights.get(n, 1.0))
                   / (1 + battles.get(n, 0)) ** settings.balance for n in pool]
        return rng.choices(list(pool), weights=chances, k=1)[0]

    first = pick(names)
    second = pick([n for n in names if n != first])
    # The favoured model is drawn first more often: which side shows it is a coin toss, or
    # "A" would more often be the newest model, a hint before the vote.
    return (first, second) if rng.random() < 0.5 else (second, first)


def identity_words(config: Mapping[str, Any], extra: Sequence[str] = ()) -> list[str]:
    """The names an answer could give itself away by: the model's name in the task, the
    endpoint's model id and its family, the vendor of that family, and `extra`."""
    words = {str(config["name"]), str(config["model"])}
    model_id = str(config["model"]).lower().rsplit("/", 1)[-1]
    for prefix, vendors in VENDORS:
        if model_id.startswith(prefix):
            words.update(vendors)
    words.update(str(w) for w in extra)
    return sorted(w for w in words if len(w) >= 2)


def names_itself(answer: str, words: Sequence[str]) -> list[str]:
    """The identity words the answer contains (as whole words, any case)."""
    found = []
    for word in words:
        if re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", answer, flags=re.IGNORECASE):
            found.append(word)
    return found


def check_prompt(text: str, settings: ArenaSettings) -> str:
    """The prompt as sent (trimmed); empty or too long is refused."""
    prompt = text.strip()
    if not prompt:
        raise ValidationError("type a prompt first", field="prompt")
    if len(prompt) > settings.max_prompt_chars:
        raise ValidationError(
            f"the prompt has {len(prompt):,} characters; this arena takes at most "
            f"{settings.max_prompt_chars:,}", field="prompt")
    return prompt
