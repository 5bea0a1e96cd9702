"""Moving a deployment between databases: every row of one into an empty other, checked."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from judge_app.errors import JudgeAppError, ValidationError
from judge_app.storage import copy as store
from judge_app.storage.db import resolve_db_target
from judge_app.storage.dialect import dialect_of
from judge_app.storage.schema import open_database


@dataclass(frozen=True)
class CopyReport:
    source: str
    target: str
    rows: dict[str, int]  # rows per table, the same in both (checked)

    def summary(self) -> str:
        total = sum(self.rows.values())
        tables = ", ".join(f"{n} {t}" for t, n in self.rows.items() if n)
        return f"copied {total} rows from {self.source} to {self.target} ({tables})"


def copy_database(source: str, target: str, *, progress_bar: bool = False) -> CopyReport:
    """Copy every row of ``source`` (a DuckDB file or a PostgreSQL URL) into ``target``,
    which must be empty; one transaction on the target: all of it lands, or nothing."""
    src_target, dst_target = resolve_db_target(source), resolve_db_target(target)
    if str(src_target) == str(dst_target):
        raise ValidationError("--from and --to name the same database", field="to")
    src = open_database(src_target, create=False)
    dst = open_database(dst_target)
    try:
        with dst.cursor() as cur:
            present = {t: n for t, n in store.row_counts(cur).items() if n}
        if present:
            raise ValidationError(
                f"{dst.name} is not empty ({', '.join(f'{n} {t}' for t, n in present.items())}); "
                "copy into a new database (a copy moves a deployment, `judge-app import` merges)",
                field="to")
        with src.transaction() as s:
            dialect_of(s).read_one_snapshot(s)
            expected = store.row_counts(s)
            bar = None
            if progress_bar:
                from tqdm import tqdm

                bar = tqdm(total=sum(expected.values()), unit="row", file=sys.stderr,
                           desc="copy")

            def advance(table: str, n: int) -> None:
                if bar is not None:
                    bar.set_postfix_str(table, refresh=False)
                    bar.update(n)

            try:
                with dst.transaction() as d:
                    store.copy_rows(s, d, advance)
            finally:
                if bar is not None:
                    bar.close()
        with dst.cursor() as cur:
            landed = store.row_counts(cur)
        if landed != expected:
            raise JudgeAppError(f"the copy into {dst.name} does not match {src.name}: "
                                f"{landed} rows against {expected}")
        return CopyReport(src.name, dst.name, expected)
    finally:
        src.close()
        dst.close()
