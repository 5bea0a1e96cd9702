"""A small task with known votes, shared by the export tests."""

from __future__ import annotations

from judge_app.core.ids import pair_id
from judge_app.core.types import ImportedVerdict, Output, Prompt, TaskBundle, TaskConfig
from judge_app.services.imports import import_bundle
from judge_app.services.verdicts import JudgeVerdict, record_judge_verdicts
from judge_app.storage.db import Database

TASK = "prefs"
SECRET = "sk-test-SECRET-123"


def _v(prompt: str, a: str, b: str, outcome: str, rater: str, **kw: object) -> ImportedVerdict:
    return ImportedVerdict(prompt, a, b, outcome, rater, **kw)  # type: ignore[arg-type]


def prefs_bundle() -> TaskBundle:
    models = ("m1", "m2", "m3")
    prompts = [Prompt(f"q{i}", ({"role": "user", "content": f"question {i}"},))
               for i in range(5)]
    prompts.append(Prompt("multi", (
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"},
    )))
    outputs = [Output(p.prompt_id, m, ({"role": "assistant", "content": f"{p.prompt_id} by {m}"},))
               for p in prompts[:5] for m in models]
    outputs += [Output("multi", m, (
        {"role": "assistant", "content": f"one by {m}"},
        {"role": "assistant", "content": f"two by {m}"},
    )) for m in models]
    verdicts = [
        _v("q0", "m1", "m2", "a", "h1"), _v("q0", "m1", "m2", "a", "h2"),
        _v("q0", "m2", "m1", "a", "h3"),                     # m2 better: q0 is 2:1 for m1
        _v("q1", "m1", "m2", "tie", "h1"), _v("q1", "m1", "m2", "tie", "h2"),
        _v("q1", "m1", "m2", "a", "h3"),                     # tie majority
        _v("q2", "m1", "m3", "a", "h1"), _v("q2", "m1", "m3", "b", "h2"),  # split
        _v("q3", "m2", "m3", "both_bad", "h1"), _v("q3", "m2", "m3", "both_bad", "h2"),
        _v("q4", "m1", "m3", "b", "gpt-judge", source="judge", probability=0.2, strength=2),
        _v("multi", "m3", "m2", "a", "h1", strength=1),     # m3 better
    ]
    config = TaskConfig(name=TASK, title="Preference test", licence="CC-BY-4.0",
                        strength=True)
    return TaskBundle(config, prompts, outputs, verdicts, source_files=["prefs"])


def load_prefs(db: Database) -> None:
    import_bundle(db, prefs_bundle())
    # One judge verdict through the judge path, with provenance that must be cleaned.
    record_judge_verdicts(db, [JudgeVerdict(
        task_id=TASK, pair_id=pair_id(TASK, "q0", "m1", "m3"), rater_id="gpt-judge",
        outcome="a", verdict_id="jv1", probability=0.9,
        extra={"judge_model": "gpt-x", "judge_config_hash": "cfg123",
               "judge_endpoint": f"https://user:{SECRET}@api.example.com/v1?key={SECRET}"},
    )])
