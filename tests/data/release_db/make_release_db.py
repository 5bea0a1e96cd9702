"""Build release-0.db: a small database made by the release before migration 005.

Run from a checkout of commit 059ac50 (schema versions 1-4), with its test dependencies:

    python tests/data/release_db/make_release_db.py OUT.duckdb

It holds one task with a provenance note (the old `source` key), people's verdicts given in
the browser's way (normal, gold and retest assignments, a skip, an undo), imported verdicts,
a judge run against the project's fake OpenAI server (both orders: judge calls, combined
verdicts, a retraction by a second judge config), an escalation and a browser session.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
sys.path.insert(0, str(ROOT))

from judge_app.core.types import GoldAnswer, ImportedVerdict, Output, Prompt, TaskBundle, TaskConfig  # noqa: E402
from judge_app.judges.config import load_config  # noqa: E402
from judge_app.services import judges, queue, raters, sessions, verdicts  # noqa: E402
from judge_app.services.imports import import_bundle  # noqa: E402
from judge_app.storage.schema import open_database  # noqa: E402
from tests.fake_openai_server import FakeOpenAIServer, first_wins, longer_wins  # noqa: E402

MODELS = ("alpha", "beta", "gamma")


def bundle() -> TaskBundle:
    prompts = [Prompt(f"q{i}", ({"role": "user", "content": f"question {i}"},), category="c")
               for i in range(4)]
    outputs = [Output(f"q{i}", m, ({"role": "assistant",
                                     "content": f"answer {i} by {m} " * (1 + (i + j) % 3)},))
               for i in range(4) for j, m in enumerate(MODELS)]
    imported = [
        ImportedVerdict("q0", "alpha", "beta", "a", "imp1", created_at="2024-01-02T03:04:05Z"),
        ImportedVerdict("q1", "beta", "gamma", "tie", "imp1"),
        ImportedVerdict("q2", "alpha", "gamma", "b", "imp2", left_side="a", strength=2),
        ImportedVerdict("q3", "alpha", "beta", "both_bad", "imp2"),
        ImportedVerdict("q3", "beta", "gamma", "a", "old-judge", source="judge",
                        probability=0.8, judge_model="gpt-x"),
    ]
    # The provenance note: `source` in 059ac50's TaskConfig, `provenance` after migration 005
    # (the migration test imports this bundle again into the upgraded database).
    key = "provenance" if "provenance" in TaskConfig.__dataclass_fields__ else "source"
    config = TaskConfig(name="rel", title="Release task", strength=True, seed=7,  # type: ignore[arg-type]
                        gold_rate=0.3, retest_rate=0.3, overlap=2, licence="CC-BY-4.0",
                        outcomes=("a", "b", "tie", "both_bad"), **{key: "written for this test"})
    gold = [GoldAnswer("q0", "alpha", "gamma", "a"), GoldAnswer("q2", "beta", "gamma", "b")]
    return TaskBundle(config, prompts, outputs, imported, gold, source_files=["rel"])


def main(out: Path) -> None:
    from judge_app.judges.runner import plan_run, run_plan  # 059ac50's module (now services)

    from judge_app.services.rating import (
        client_id,  # 059ac50's API (ids now come with the assignment)
    )

    db = open_database(out)
    import_bundle(db, bundle())
    for name in ("ann", "bob"):
        token = raters.add_rater(db, name).token
        raters.assign_tasks(db, name, ["rel"])
        session = sessions.sign_in(db, token)
        assert session is not None
        choices = ["left", "right", "tie", "left", "both_bad", "right", "left", "tie"]
        for n, choice in enumerate(choices):
            pair = queue.next_assignment(db, name, "rel", session_id=session)
            if pair is None:
                break
            aid = pair.assignment_id
            if n == 3:
                verdicts.skip(db, session, aid, client_id(db, aid))
                continue
            verdicts.record_verdict(db, session, verdicts.VerdictInput(
                assignment_id=aid, choice=choice, client_id=client_id(db, aid),  # type: ignore[arg-type]
                strength=2 if choice in ("left", "right") and n % 2 else None,
                duration_ms=1000 + n))
            if n == 5:
                verdicts.undo_last(db, session, "rel")
    for template, answer in (("overall", longer_wins), ("overall-json", first_wins)):
        with FakeOpenAIServer(answer) as server:
            judge = out.with_name("judge.toml")
            judge.write_text(f'name = "fake-judge"\nmodel = "fake"\ntemplate = "{template}"\n'
                             f'base_url = "{server.base_url}"\ninput_price_per_million = 1.0\n')
            run_plan(db, plan_run(db, "rel", load_config(judge)), progress=False)
            judge.unlink()
    judges.escalate(db, "rel", "fake-judge", margin=0.99)
    db.close()


FIGURES = [("leaderboard", source) for source in ("all", "human", "judge", "judge:fake-judge")]
FIGURES += [("agreement", source) for source in ("human", "judge", "all")]


def figures(db_path: Path) -> dict[str, object]:
    """What `judge-app leaderboard` and `agreement` print as JSON, per source filter."""
    out: dict[str, object] = {}
    for command, source in FIGURES:
        done = subprocess.run(
            [sys.executable, "-m", "judge_app.cli", command, "--task", "rel", "--source", source,
             "--format", "json", "--db", str(db_path)],
            capture_output=True, text=True, cwd=ROOT, timeout=300, check=True)
        out[f"{command} {source}"] = json.loads(done.stdout)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1])
    main(target)
    (target.parent / "figures.json").write_text(
        json.dumps(figures(target), indent=1, sort_keys=True) + "\n", encoding="utf-8")
