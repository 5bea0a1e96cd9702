"""The budget ledger's SQL (migration 009): windows of runs sharing a cap, as an append-only
log of steps carrying running totals.

Each function is one step of a transaction that services/budgets.py runs and retries on
db.WRITE_CONFLICTS: read the window's last row, insert the next one. Two processes stepping
at once insert the same (scope, window_no, seq) and the second fails, so every admission
is checked against totals no other step changed meanwhile, on both databases.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import duckdb

from judge_app.core.vocabulary import BudgetStep
from judge_app.storage.rows import all_rows

MEMBER_COLUMNS = ("member_id", "scope", "window_no", "holder", "max_cost_usd", "pid", "host",
                  "pid_started")
_ENDED = "('leave', 'expire')"


@dataclass(frozen=True)
class Totals:
    """A window after its last step."""

    window_no: int
    seq: int
    spent_usd: float
    reserved_usd: float
    held: int
    members: int
    closed: bool


def current(cur: duckdb.DuckDBPyConnection, scope: str) -> Totals | None:
    """The scope's last window as its last step left it; None before the first."""
    cur.execute("SELECT window_no, seq, spent_usd, reserved_usd, held, members, kind "
                "FROM budget_ledger WHERE scope = ? ORDER BY window_no DESC, seq DESC LIMIT 1",
                [scope])
    row = cur.fetchone()
    if row is None:
        return None
    return Totals(int(row[0]), int(row[1]), float(row[2]), float(row[3]), int(row[4]),
                  int(row[5]), row[6] in ("leave", "expire") and int(row[5]) == 0)


def _append(cur: duckdb.DuckDBPyConnection, scope: str, after: Totals, kind: BudgetStep,
            member_id: str, now: datetime, *, amount: float = 0.0, calls: int = 0,
            cost: float = 0.0) -> None:
    cur.execute(
        "INSERT INTO budget_ledger (scope, window_no, seq, kind, member_id, amount_usd, calls, "
        "cost_usd, spent_usd, reserved_usd, held, members, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [scope, after.window_no, after.seq, kind, member_id, amount, calls, cost,
         after.spent_usd, max(0.0, after.reserved_usd), max(0, after.held), after.members, now])


def join(cur: duckdb.DuckDBPyConnection, member: dict[str, Any], now: datetime) -> int:
    """Add the member to the scope's open window, or open the next one; its number."""
    scope = member["scope"]
    last = current(cur, scope)
    if last is None or last.closed:
        number = 1 if last is None else last.window_no + 1
        after = Totals(number, 1, 0.0, 0.0, 0, 1, False)
    else:
        after = replace(last, seq=last.seq + 1, members=last.members + 1)
    _append(cur, scope, after, "join", member["member_id"], now)
    cur.execute(
        "INSERT INTO budget_members (member_id, scope, window_no, holder, max_cost_usd, pid, "
        "host, pid_started, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [member["member_id"], scope, after.window_no, member["holder"],
         member["max_cost_usd"], member.get("pid"), member.get("host"),
         member.get("pid_started"), now])
    return after.window_no


def reserve(cur: duckdb.DuckDBPyConnection, scope: str, window_no: int, member_id: str,
            amount: float, cap: float, now: datetime) -> int | None:
    """Reserve ``amount`` if the window's spent + reserved + amount stays within ``cap``:
    None when admitted, else the calls in flight in the window."""
    last = current(cur, scope)
    if last is None or last.window_no != window_no:  # pragma: no cover - members keep it open
        raise RuntimeError(f"budget window {scope} #{window_no} is not the current one")
    if last.spent_usd + last.reserved_usd + amount > cap:
        return last.held
    after = replace(last, seq=last.seq + 1, reserved_usd=last.reserved_usd + amount,
                    held=last.held + 1)
    _append(cur, scope, after, "reserve", member_id, now, amount=amount, calls=1)
    return None


def _ended(cur: duckdb.DuckDBPyConnection, scope: str, window_no: int, member_id: str) -> bool:
    cur.execute(f"SELECT count(*) FROM budget_ledger WHERE scope = ? AND window_no = ? "  # noqa: S608
                f"AND member_id = ? AND kind IN {_ENDED}", [scope, window_no, member_id])
    row = cur.fetchone()
    return bool(row and row[0])


def settle(cur: duckdb.DuckDBPyConnection, scope: str, window_no: int, member_id: str,
           reserved: float, actual: float, now: datetime) -> None:
    """Replace a reservation by what the call cost. A member already expired (its share was
    released) only adds what it paid."""
    last = current(cur, scope)
    if last is None:  # pragma: no cover
        return
    if _ended(cur, scope, window_no, member_id) or last.window_no != window_no:
        # its window may even have closed: the money counts in the window current now
        after = replace(last, seq=last.seq + 1, spent_usd=last.spent_usd + actual)
        _append(cur, scope, after, "settle", member_id, now, cost=actual)
        return
    after = replace(last, seq=last.seq + 1, spent_usd=last.spent_usd + actual,
                    reserved_usd=last.reserved_usd - reserved, held=last.held - 1)
    _append(cur, scope, after, "settle", member_id, now, amount=reserved, calls=-1,
            cost=actual)


def end_member(cur: duckdb.DuckDBPyConnection, scope: str, window_no: int, member_id: str,
               kind: BudgetStep, now: datetime) -> bool:
    """The member leaves ('leave') or was found dead ('expire'): what it still holds goes
    back to the window, which closes when it was the last member. False if it had ended."""
    if _ended(cur, scope, window_no, member_id):
        return False
    cur.execute("SELECT coalesce(sum(CASE WHEN kind = 'reserve' THEN amount_usd "
                "ELSE -amount_usd END), 0), coalesce(sum(calls), 0) FROM budget_ledger "
                "WHERE scope = ? AND window_no = ? AND member_id = ? "
                "AND kind IN ('reserve', 'settle')", [scope, window_no, member_id])
    row = cur.fetchone()
    holds, calls = (float(row[0]), int(row[1])) if row else (0.0, 0)
    last = current(cur, scope)
    if last is None or last.window_no != window_no:  # pragma: no cover
        return False
    after = replace(last, seq=last.seq + 1, reserved_usd=last.reserved_usd - holds,
                    held=last.held - calls, members=last.members - 1)
    _append(cur, scope, after, kind, member_id, now, amount=holds, calls=-calls)
    return True


def active_members(cur: duckdb.DuckDBPyConnection, scope: str,
                   window_no: int) -> list[dict[str, Any]]:
    """The window's members that have not left or expired."""
    cur.execute(f"SELECT {', '.join('m.' + c for c in MEMBER_COLUMNS)} "  # noqa: S608
                "FROM budget_members m WHERE m.scope = ? AND m.window_no = ? AND NOT EXISTS "
                "(SELECT 1 FROM budget_ledger l WHERE l.scope = m.scope "
                "AND l.window_no = m.window_no AND l.member_id = m.member_id "
                f"AND l.kind IN {_ENDED}) ORDER BY m.member_id", [scope, window_no])
    return all_rows(cur)


def windows(cur: duckdb.DuckDBPyConnection, scope: str) -> list[dict[str, Any]]:
    """Each window of a scope as its last step left it, oldest first."""
    cur.execute("SELECT window_no, seq, spent_usd, reserved_usd, held, members, kind "
                "FROM budget_ledger l WHERE scope = ? AND seq = (SELECT max(seq) "
                "FROM budget_ledger w WHERE w.scope = l.scope AND w.window_no = l.window_no) "
                "ORDER BY window_no", [scope])
    rows = all_rows(cur)
    for row in rows:
        row["closed"] = row["kind"] in ("leave", "expire") and row["members"] == 0
    return rows


def member_steps(cur: duckdb.DuckDBPyConnection, scope: str) -> list[tuple[str, str]]:
    """(holder, kind) of every join, leave and expire in the scope (for tests)."""
    cur.execute("SELECT m.holder, l.kind FROM budget_ledger l JOIN budget_members m "
                "ON m.member_id = l.member_id WHERE l.scope = ? "
                "AND l.kind IN ('join', 'leave', 'expire') ORDER BY l.window_no, l.seq",
                [scope])
    return [(str(h), str(k)) for h, k in cur.fetchall()]
