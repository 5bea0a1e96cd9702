"""The app's one clock: timezone-aware UTC, whatever the machine's time zone is.

The database keeps times in TIMESTAMP columns as naive UTC (the storage connection's time zone
is pinned to UTC, so DuckDB's ``current_timestamp`` defaults agree with the values written
from here); ``stored`` turns an aware time into that form for bulk inserts, where DuckDB
would not convert.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def stored(moment: datetime) -> datetime:
    """The naive UTC datetime a TIMESTAMP column keeps; a naive input is taken as UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def stored_now() -> datetime:
    """Now, as a TIMESTAMP column keeps it."""
    return stored(utc_now())
