"""What differs between the two databases' SQL, in one small place.

Most queries are written once and run on both DuckDB and PostgreSQL (portable spellings are
preferred where they cost DuckDB nothing: explicit GROUP BY lists, ``CAST(? AS VARCHAR)``,
``percentile_cont``). What cannot be shared is a method here, so each difference is visible
and named. Storage functions get the dialect from the cursor they were given: a PostgreSQL
cursor (storage/postgres.py) carries ``dialect = POSTGRES``; DuckDB's cursors (local or through
the owner's socket) carry none and are DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Dialect:
    name: str  # "duckdb" | "postgresql"

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgresql"

    def least_by_hash(self, value: str, rank: str, salt: str) -> str:
        """Aggregate: the ``value`` with the lowest ``rank``, ties broken by a hash of the
        value and ``salt`` (so raters asking at once spread over equal candidates). The two
        hashes differ, so which of the tied values is picked differs between databases."""
        if self.is_postgres:
            return f"(array_agg({value} ORDER BY {rank}, md5({value} || {salt})))[1]"
        return f"arg_min({value}, {rank} + hash({value} || {salt}) / 18446744073709551616.0)"

    def ms_between(self, start: str, end: str) -> str:
        """Milliseconds from ``start`` to ``end`` (both TIMESTAMP), as a number."""
        if self.is_postgres:
            return f"(EXTRACT(EPOCH FROM ({end} - {start})) * 1000)"
        return f"date_diff('millisecond', {start}, {end})"

    def struct_list(self, fields: list[tuple[str, str]], order: str) -> str:
        """Aggregate: one record per row, {name: expression}, as a list in ``order``.
        DuckDB makes a list of structs; PostgreSQL a JSON array of objects, which
        postgres.json_lists_to_arrow turns into the same Arrow column."""
        if self.is_postgres:
            pairs = ", ".join(f"'{name}', {expr}" for name, expr in fields)
            return f"json_agg(json_build_object({pairs}) ORDER BY {order})"
        pairs = ", ".join(f"'{name}': {expr}" for name, expr in fields)
        return f"list({{{pairs}}} ORDER BY {order})"

    def read_one_snapshot(self, cur: Any) -> None:
        """Make the caller's just begun transaction read one snapshot throughout, so rows
        others write meanwhile never mix into what it reads: DuckDB's transactions do
        already; PostgreSQL's default (read committed) takes a snapshot per statement."""
        if self.is_postgres:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def lock(self, cur: Any, *keys: str) -> None:
        """Serialise this transaction with every other one taking the same keys, across
        processes, until it ends. DuckDB has one owner process (storage/owner.py) whose
        callers already take a thread lock, so there it is a no-op; PostgreSQL takes a
        transaction-scoped advisory lock per key (hashed to 64 bits; a collision only
        makes two keys wait for each other)."""
        if not self.is_postgres:
            return
        for key in sorted(keys):
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [key])
            cur.fetchall()


DUCKDB = Dialect("duckdb")
POSTGRES = Dialect("postgresql")


def dialect_of(cur: Any) -> Dialect:
    """The dialect of the database behind a cursor."""
    found = getattr(cur, "dialect", None)
    return found if isinstance(found, Dialect) else DUCKDB
