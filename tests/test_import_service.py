from __future__ import annotations

import dataclasses

import pytest

from judge_app.core.types import ImportedVerdict, Output
from judge_app.errors import ValidationError
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from tests.conftest import make_bundle

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

def counts(db: Database) -> dict[str, int]:
    with db.cursor() as cur:
        return {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
                for t in ("tasks", "prompts", "outputs", "pairs", "verdicts", "raters")}


def test_import_then_reimport_changes_nothing(db: Database) -> None:
    bundle = make_bundle(n_prompts=4, models=("m1", "m2", "m3"))
    first = import_bundle(db, bundle)
    assert (first.prompts_new, first.outputs_new, first.pairs_new) == (4, 12, 12)
    before = counts(db)
    again = import_bundle(db, bundle)
    assert again.nothing_new and "nothing new" in again.summary()
    assert counts(db) == before


def test_changed_content_needs_replace(db: Database) -> None:
    bundle = make_bundle()
    import_bundle(db, bundle)
    changed = dataclasses.replace(bundle, outputs=[
        dataclasses.replace(o, response=({"role": "assistant", "content": "new"},))
        if (o.prompt_id, o.model) == ("q1", "m2") else o for o in bundle.outputs
    ])
    before = counts(db)
    with pytest.raises(ValidationError, match="--replace"):
        import_bundle(db, changed)
    assert counts(db) == before
    report = import_bundle(db, changed, replace=True)
    assert report.replaced == 1
    with db.cursor() as cur:
        text = cur.execute("SELECT response_text FROM outputs WHERE prompt_id='q1' AND model='m2'"
                           ).fetchone()[0]
    assert text == "new"
    assert counts(db) == before


def test_failed_import_leaves_database_unchanged(db: Database) -> None:
    import_bundle(db, make_bundle("first"))
    before = counts(db)
    bad = make_bundle("second")
    bad.verdicts.append(ImportedVerdict("q0", "m1", "nope", "a", "r1"))
    with pytest.raises(ValidationError, match="nope"):
        import_bundle(db, bad)
    # A failure inside the transaction (duplicate output ids) rolls everything back.
    dup = make_bundle("third")
    dup.outputs.append(Output("q0", "m1", ({"role": "assistant", "content": "x"},)))
    with pytest.raises(Exception):  # noqa: B017
        import_bundle(db, dup)
    assert counts(db) == before


def test_imported_verdicts_are_normalised_to_canonical_order(db: Database) -> None:
    bundle = make_bundle(models=("m1", "m2"))
    bundle.verdicts += [
        ImportedVerdict("q0", "m2", "m1", "a", "ann1", left_side="a", probability=0.9),
        ImportedVerdict("q0", "m1", "m2", "tie", "ann2"),
    ]
    report = import_bundle(db, bundle)
    assert report.verdicts_new == 2
    with db.cursor() as cur:
        rows = cur.execute("SELECT rater_id, model_a, model_b, outcome, left_side, probability "
                           "FROM verdicts ORDER BY rater_id").fetchall()
    assert rows == [("ann1", "m1", "m2", "b", "b", pytest.approx(0.1)),
                    ("ann2", "m1", "m2", "tie", None, None)]
    assert import_bundle(db, bundle).verdicts_new == 0


def test_baseline_design_pairs_only_with_baseline(db: Database) -> None:
    bundle = make_bundle(models=("base", "m1", "m2"), design="baseline", baseline="base")
    assert import_bundle(db, bundle).pairs_new == 10
