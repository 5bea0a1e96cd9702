"""The native task folder: task.toml, prompts.jsonl, outputs.jsonl, gold.jsonl, verdicts.jsonl.

``task.toml`` is checked key by key: an unknown key is an error (a typo would otherwise be
silently ignored), and every message names the file, the line where it can, and the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from pathlib import Path
from typing import Any

from judge_app.core.types import OUTCOMES, Criterion, Outcome, TaskBundle, TaskConfig
from judge_app.errors import ValidationError
from judge_app.ingest.jsonl import SUFFIXES, iter_records, read_text
from judge_app.ingest.reader import ReaderCode
from judge_app.ingest.records import (
    models_by_prompt,
    parse_gold,
    parse_outputs,
    parse_prompts,
    parse_verdicts,
)

TASK_FILE = "task.toml"
MAX_OVERLAP = 1000  # raters per pair; more is a typo, and would flood every queue
MAX_SEED = 2**32 - 1  # what every random generator accepts, numpy's legacy one included
MAX_BUDGET = 10**9
TASK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

_TOP_KEYS = (
    "name", "title", "instructions", "outcomes", "strength", "criteria", "rationale",
    "rationale_min_length", "overlap", "reveal_models", "show_reference",
    "allow_empty_responses", "pairing", "quality", "scheduling", "licence", "provenance",
    "source",  # provenance's name before migration 005: still read
    "arena",
)
_SECTIONS = {
    "pairing": ("design", "baseline", "budget", "seed"),
    "quality": ("gold_rate", "retest_rate"),
    "scheduling": ("mode", "target", "level"),
    "criteria": ("name", "description", "outcomes"),
}


# ---- task.toml ----------------------------------------------------------------------------

class _Toml:
    """Typed access to one parsed task.toml, with errors that point at the key's line."""

    def __init__(self, text: str, file: str) -> None:
        self.text, self.file = text, file
        try:
            self.data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"line (\d+)", str(exc))
            raise ValidationError(
                f"invalid TOML: {exc}", file=file, line=int(match[1]) if match else None
            ) from None

    def error(self, message: str, key: str) -> ValidationError:
        return ValidationError(message, file=self.file, line=self.line_of(key), field=key)

    def line_of(self, key: str) -> int | None:
        """Best-effort line of a dotted key such as ``pairing.design`` or ``criteria[1].name``."""
        lines = self.text.split("\n")
        start, name = 0, key
        match = re.fullmatch(r"(\w+)(?:\[(\d+)\])?\.(\w+)", key)
        if match:
            section, index, name = match[1], int(match[2] or 0), match[3]
            header = re.compile(rf"^\s*\[\[?\s*{section}\s*\]\]?")
            hits = [i for i, text in enumerate(lines) if header.match(text)]
            if len(hits) <= index:
                return None
            start = hits[index] + 1
        assignment = re.compile(rf"^\s*[\"']?{re.escape(name)}[\"']?\s*=")
        for i in range(start, len(lines)):
            if lines[i].lstrip().startswith("["):
                break  # the next table begins
            if assignment.match(lines[i]):
                return i + 1
        return None

    def check_keys(self, table: dict[str, Any], known: tuple[str, ...], prefix: str = "") -> None:
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise self.error(f"unknown key{hint} (known: {', '.join(known)})", prefix + key)


def _get(
    toml: _Toml, table: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any,
    prefix: str = "",
) -> Any:
    if key not in table:
        return default
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # TOML's true/false are Python bools, which isinstance() would also accept as ints.
    if isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool)):
        return value
    names = {str: "a string", bool: "true or false", int: "a whole number", float: "a number",
             list: "a list", dict: "a table"}
    expected = " or ".join(names.get(k, k.__name__) for k in kinds)
    raise toml.error(f"expected {expected}, found {value!r}", prefix + key)


def _outcomes(toml: _Toml, table: dict[str, Any], key: str, default: tuple[Outcome, ...],
              prefix: str = "") -> tuple[Outcome, ...]:
    values = _get(toml, table, key, list, None, prefix)
    if values is None:
        return default
    field = prefix + key
    for value in values:
        if value not in OUTCOMES:
            raise toml.error(f"unknown outcome {value!r} (use a, b, tie, both_bad)", field)
    if len(set(values)) != len(values):
        raise toml.error("an outcome is listed twice", field)
    if "a" not in values or "b" not in values:
        raise toml.error("a pairwise task needs at least outcomes a and b", field)
    return tuple(o for o in OUTCOMES if o in values)


def parse_task_config(text: str, file: str, default_name: str | None = None) -> TaskConfig:
    """Validate task.toml text into a TaskConfig; ``default_name`` is used when name is absent."""
    toml = _Toml(text, file)
    data = toml.data
    toml.check_keys(data, _TOP_KEYS)
    defaults = TaskConfig(name="-")

    name = _get(toml, data, "name", str, default_name)
    if name is None:
        raise toml.error("missing required key", "name")
    if not TASK_NAME.match(name):
        raise toml.error(
            "a task name uses letters, digits, '.', '_' and '-' (starting with a letter or "
            f"digit), at most 100 characters; found {name!r}", "name",
        )

    criteria: list[Criterion] = []
    raw_criteria = _get(toml, data, "criteria", list, [])
    for i, table in enumerate(raw_criteria):
        prefix = f"criteria[{i}]."
        if not isinstance(table, dict):
            raise toml.error("each criterion is a [[criteria]] table", f"criteria[{i}]")
        toml.check_keys(table, _SECTIONS["criteria"], prefix)
        crit_name = _get(toml, table, "name", str, "", prefix)
        if not crit_name.strip():
            raise toml.error("a criterion needs a name", prefix + "name")
        if any(c.name == crit_name for c in criteria):
            raise toml.error(f"criterion {crit_name!r} is defined twice", prefix + "name")
        criteria.append(Criterion(
            name=crit_name,
            description=_get(toml, table, "description", str, "", prefix),
            outcomes=_outcomes(toml, table, "outcomes", Criterion("-").outcomes, prefix),
        ))

    rationale = _get(toml, data, "rationale", str, defaults.rationale)
    if rationale not in ("off", "optional", "required"):
        raise toml.error(f"expected off, optional or required, found {rationale!r}", "rationale")
    min_length = _get(toml, data, "rationale_min_length", int, 0)
    if min_length < 0:
        raise toml.error("must not be negative", "rationale_min_length")
    if min_length and rationale == "off":
        raise toml.error("needs rationale = optional or required", "rationale_min_length")
    overlap = _get(toml, data, "overlap", int, defaults.overlap)
    if not 1 <= overlap <= MAX_OVERLAP:
        raise toml.error(f"at least one rater per pair and at most {MAX_OVERLAP}", "overlap")

    pairing = _table(toml, data, "pairing")
    design = _get(toml, pairing, "design", str, defaults.design, "pairing.")
    if design not in ("all_pairs", "baseline", "sampled"):
        raise toml.error(
            f"expected all_pairs, baseline or sampled, found {design!r}", "pairing.design"
        )
    baseline = _get(toml, pairing, "baseline", str, None, "pairing.")
    if design == "baseline" and not baseline:
        raise toml.error("design = baseline needs the baseline model's name", "pairing.baseline")
    if design != "baseline" and baseline is not None:
        raise toml.error("baseline applies only to design = baseline", "pairing.baseline")
    budget = _get(toml, pairing, "budget", int, None, "pairing.")
    if design == "sampled" and budget is None:
        raise toml.error("design = sampled needs a budget (number of pairs)", "pairing.budget")
    if budget is not None and (design != "sampled" or budget < 1):
        raise toml.error("budget is a positive number of pairs for design = sampled",
                         "pairing.budget")

    if budget is not None and budget > MAX_BUDGET:
        raise toml.error(f"at most {MAX_BUDGET:,} pairs", "pairing.budget")
    seed = _get(toml, pairing, "seed", int, 0, "pairing.")
    if not 0 <= seed <= MAX_SEED:
        raise toml.error(f"a seed is a whole number from 0 to {MAX_SEED} (2^32 - 1)",
                         "pairing.seed")

    quality = _table(toml, data, "quality")
    rates = {}
    for key in _SECTIONS["quality"]:
        rate = float(_get(toml, quality, key, (int, float), 0.0, "quality."))
        if not 0.0 <= rate < 1.0:
            raise toml.error("a share of assignments, at least 0 and below 1", f"quality.{key}")
        rates[key] = rate

    scheduling, target, level = _scheduling(toml, data)

    return TaskConfig(
        name=name,
        title=_get(toml, data, "title", str, ""),
        instructions=_get(toml, data, "instructions", str, ""),
        outcomes=_outcomes(toml, data, "outcomes", defaults.outcomes),
        strength=_get(toml, data, "strength", bool, False),
        criteria=tuple(criteria),
        rationale=rationale,
        rationale_min_length=min_length,
        overlap=overlap,
        reveal_models=_get(toml, data, "reveal_models", bool, False),
        show_reference=_get(toml, data, "show_reference", bool, False),
        allow_empty_responses=_get(toml, data, "allow_empty_responses", bool, False),
        design=design,
        baseline=baseline,
        budget=budget,
        seed=seed,
        gold_rate=rates["gold_rate"],
        retest_rate=rates["retest_rate"],
        licence=_get(toml, data, "licence", str, ""),
        provenance=_provenance(toml, data),
        scheduling=scheduling,
        target=target,
        target_level=level,
        arena=_arena(toml, data),
    )


def _arena(toml: _Toml, data: dict[str, Any]) -> dict[str, Any] | None:
    """[arena]: model config files (paths relative to task.toml) read now and stored with the
    task, so the served app needs no file; keys stay in the environment (api_key_env)."""
    from judge_app.core.arena import SETTINGS_KEYS, arena_settings, check_settings
    from judge_app.core.redact import url_secrets
    from judge_app.judges.model_config import load_model_config

    if "arena" not in data:
        return None
    table = _get(toml, data, "arena", dict, {})
    toml.check_keys(table, SETTINGS_KEYS, "arena.")
    files = table.get("models")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise toml.error("a list of model config files (paths relative to task.toml)",
                         "arena.models")
    folder = Path(toml.file).parent
    models = []
    for name in files:
        path = Path(name) if Path(name).is_absolute() else folder / name
        if not path.is_file():
            raise toml.error(f"no model config file {str(path)!r}", "arena.models")
        config = load_model_config(path)
        if config.base_url and url_secrets(config.base_url):
            raise toml.error(f"{name}: put the key in api_key_env, not in base_url (the "
                             "arena's configs are stored with the task)", "arena.models")
        values = dataclasses.asdict(config)
        values.pop("file", None)
        models.append(values)
    stored = {**table, "models": models}
    try:
        settings = arena_settings(stored)
        assert settings is not None
        check_settings(settings)
    except (TypeError, ValueError, AttributeError) as exc:
        raise toml.error(f"a setting has the wrong type: {exc}", "arena") from None
    except ValidationError as exc:
        message = str(exc).removesuffix(f" (field '{exc.field}')")
        raise toml.error(message, exc.field or "arena") from None
    return stored


def _provenance(toml: _Toml, data: dict[str, Any]) -> str:
    """`provenance`, or its old name `source` in files written before it was renamed."""
    if "provenance" in data and "source" in data:
        raise toml.error("give provenance only (source is its old name)", "source")
    key = "provenance" if "provenance" in data else "source"
    return str(_get(toml, data, key, str, ""))


def _scheduling(toml: _Toml, data: dict[str, Any]) -> tuple[str, str, float]:
    """[scheduling]: uniform (default) or adaptive, with the target that stops it."""
    from judge_app.core.adaptive import SCHEDULINGS, parse_target

    table = _table(toml, data, "scheduling")
    mode = _get(toml, table, "mode", str, "uniform", "scheduling.")
    if mode not in SCHEDULINGS:
        raise toml.error(f"expected uniform or adaptive, found {mode!r}", "scheduling.mode")
    target = _get(toml, table, "target", str, "ranking", "scheduling.")
    level = float(_get(toml, table, "level", (int, float), 0.95, "scheduling."))
    if not 0.5 <= level < 1:
        raise toml.error("a confidence level, at least 0.5 and below 1", "scheduling.level")
    try:
        parse_target(target, level=level)
    except ValidationError as exc:
        message = str(exc).removesuffix(f" (field '{exc.field}')")
        raise toml.error(message, "scheduling.target") from None
    return mode, target, level


def _table(toml: _Toml, data: dict[str, Any], key: str) -> dict[str, Any]:
    table: dict[str, Any] = _get(toml, data, key, dict, {})
    toml.check_keys(table, _SECTIONS[key], key + ".")
    return table


# ---- the folder ---------------------------------------------------------------------------

def find_data_file(folder: Path, stem: str, required: bool) -> Path | None:
    """``stem`` with any of the accepted suffixes (.jsonl, .jsonl.gz, .json, .json.gz)."""
    found = [folder / (stem + s) for s in SUFFIXES if (folder / (stem + s)).is_file()]
    if len(found) > 1:
        raise ValidationError(
            f"found both {found[0].name} and {found[1].name}; keep one", file=str(folder)
        )
    if not found and required:
        raise ValidationError(
            f"missing {stem}.jsonl (a task folder holds task.toml, prompts.jsonl and "
            "outputs.jsonl)", file=str(folder),
        )
    return found[0] if found else None


def read_task_folder(folder: Path, task_name: str | None = None) -> TaskBundle:
    """Read and cross-check a whole task folder; ``task_name`` overrides task.toml's name."""
    toml_path = folder / TASK_FILE
    if not toml_path.is_file():
        raise ValidationError(f"no {TASK_FILE} in this folder", file=str(folder))
    config = parse_task_config(read_text(toml_path), str(toml_path), default_name=folder.name)
    if task_name is not None:
        config = dataclasses.replace(config, name=task_name)

    prompts_path = find_data_file(folder, "prompts", required=True)
    outputs_path = find_data_file(folder, "outputs", required=True)
    assert prompts_path is not None and outputs_path is not None
    prompts = parse_prompts(iter_records(prompts_path), str(prompts_path))
    prompt_index = {p.prompt_id: p for p in prompts}
    outputs = parse_outputs(
        iter_records(outputs_path), str(outputs_path), prompt_index, config.allow_empty_responses
    )
    if not outputs:
        raise ValidationError("no outputs in this file: a task needs the answers of at least "
                              "two models", file=str(outputs_path))
    index = models_by_prompt(outputs)
    if config.baseline is not None and not any(config.baseline in m for m in index.values()):
        raise ValidationError(
            f"baseline model {config.baseline!r} has no outputs in {outputs_path.name}",
            file=str(toml_path), field="pairing.baseline",
        )
    bundle = TaskBundle(config, prompts, outputs, source_files=[str(toml_path),
                        str(prompts_path), str(outputs_path)])
    gold_path = find_data_file(folder, "gold", required=False)
    if gold_path is not None:
        bundle.gold = parse_gold(iter_records(gold_path), str(gold_path), index, config.outcomes)
        bundle.source_files.append(str(gold_path))
    verdicts_path = find_data_file(folder, "verdicts", required=False)
    if verdicts_path is not None:
        bundle.verdicts = parse_verdicts(
            iter_records(verdicts_path), str(verdicts_path), index, config.outcomes
        )
        bundle.source_files.append(str(verdicts_path))
    return bundle


def _native_path(path: Path) -> Path:
    return path.parent if path.name == TASK_FILE else path


def _read_native(paths: list[Path], task_name: str | None) -> list[TaskBundle]:
    return [read_task_folder(_native_path(p), task_name) for p in paths]


READER = ReaderCode(
    sniff=lambda p: (p / TASK_FILE).is_file() if p.is_dir() else p.name == TASK_FILE,
    read=_read_native, reads_folders=True)
