"""The dataset card: a Hugging Face style README (FILE.card.md) written beside every export."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from judge_app.core.clock import utc_now
from judge_app.core.preferences import PreferenceFilters, PreferenceSummary


@dataclass
class CardInfo:
    task: str
    title: str
    fmt: str
    data_file: str
    rows: int
    source: str
    filters: PreferenceFilters
    licence: str = ""
    task_provenance: str = ""
    models: list[str] = field(default_factory=list)
    summary: PreferenceSummary | None = None
    both_bad_only: bool = False
    sidecar: str | None = None


_TAGS = {
    "trl": ["dpo", "preference"], "trl-chat": ["dpo", "preference", "conversational"],
    "openai-dpo": ["dpo", "preference"], "kto": ["kto", "preference"],
    "battles": ["pairwise-comparison"], "verdicts": ["pairwise-comparison"],
    "leaderboard": ["leaderboard"],
}


def _yaml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def _share(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def render(info: CardInfo) -> str:
    licence = info.licence.strip().lower() or "unknown"
    tags = [*_TAGS.get(info.fmt, []), "judge_app"]
    lines = [
        "---",
        f"license: {_yaml(licence)}",
        f"pretty_name: {_yaml(info.title or info.task)}",
        "tags:", *(f"- {_yaml(t)}" for t in tags),
        "configs:",
        "- config_name: default",
        f"  data_files: {_yaml(info.data_file)}",
        "---",
        "",
        f"# {info.title or info.task}",
        "",
        f"Exported by judge_app from task `{info.task}` on "
        f"{utc_now().strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        f"- Format: `{info.fmt}`" + (" (prompts whose answers were all judged bad)"
                                     if info.both_bad_only else ""),
        f"- File: `{info.data_file}` ({info.rows} rows)",
        f"- Verdict sources: `{info.source}`",
        f"- Licence (from the task): {info.licence or 'not stated'}",
    ]
    if info.task_provenance:
        lines.append(f"- Data source (from the task): {info.task_provenance}")
    if info.sidecar:
        lines.append(f"- Provenance, line by line: `{info.sidecar}`")
    if info.models:
        lines += ["", "## Models", "", ", ".join(f"`{m}`" for m in info.models)]
    s = info.summary
    if s is not None:
        lines += [
            "", "## Filters and counts", "",
            f"- `--min-votes {info.filters.min_votes}`, "
            f"`--min-agreement {info.filters.min_agreement:g}`",
            f"- Pairs with votes: {s.pairs} ({s.votes} votes)",
            f"- Exported as chosen/rejected: {s.preferences}",
            f"- Left out: {s.ties} tie majorities, {s.both_bad} both-bad majorities, "
            f"{s.split} split votes, {s.below_min_votes} below min votes, "
            f"{s.below_min_agreement} below min agreement",
            "", "## Agreement", "",
            f"- Mean share of votes agreeing with the majority (exported pairs): "
            f"{_share(s.mean_agreement)}",
            "",
            "Per row: `num_votes`, `agreement` (= `margin`, the majority's vote share), "
            "`margin_strength` (mean strength, 1 better / 2 much better), "
            "`margin_probability` (mean judge probability that the chosen answer is better), "
            "`sources` and `judge_config_hashes`.",
        ]
    lines += [
        "", "## How it was made", "",
        "Per pair, the majority outcome of the chosen verdict sources decides chosen and "
        "rejected; ties and both-bad verdicts never become a chosen/rejected pair. "
        "See judge_app's docs/exports.md.",
        "",
        "To publish on the Hugging Face Hub, upload this card as the dataset's `README.md` "
        "next to the data file.",
        "",
    ]
    return "\n".join(lines)
