"""Browser sessions: a login link is exchanged for a session id that the browser keeps.

The session id, not the login token, is what the browser stores (a cookie) and what every
rater write carries: the write re-checks it inside its own transaction, so a rater who was
disabled or given a new link cannot write from a tab that is still open. Only a hash of the
id is stored; a session ends when its rater signs out, is disabled, gets a new login link,
or after ``SESSION_DAYS``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from judge_app.core.clock import stored_now
from judge_app.errors import PermissionDenied, SignedOut
from judge_app.services.raters import authenticate, hash_token
from judge_app.storage import raters
from judge_app.storage.db import Database

SESSION_DAYS = 14
SIGNED_OUT = ("You are signed out: your session ended (signed out, disabled, or a new login "
              "link was issued). Open your login link again or ask your evaluation lead.")


def sign_in(db: Database, token: str) -> str | None:
    """A new session id for a valid login token of an enabled rater; None otherwise."""
    rater = authenticate(db, token)
    if rater is None or rater["disabled"]:
        return None
    session_id = secrets.token_urlsafe(32)
    with db.transaction() as cur:
        raters.insert_session(cur, hash_token(session_id), rater["rater_id"],
                              hash_token(token.strip()),
                              stored_now() + timedelta(days=SESSION_DAYS))
    return session_id


def rater_of(db: Database, session_id: str | None) -> dict[str, Any] | None:
    """The rater behind a live session, or None."""
    if not session_id:
        return None
    with db.cursor() as cur:
        found = raters.session_access(cur, hash_token(session_id), stored_now())
    if found is not None:
        found.pop("allowed", None)
    return found


def check(cur: Any, session_id: str, task_id: str | None = None) -> dict[str, Any]:
    """The session's rater, inside the caller's transaction; raises SignedOut when it ended
    or when the rater may not work on the task."""
    found = raters.session_access(cur, hash_token(session_id or ""), stored_now(), task_id)
    if found is None:
        raise SignedOut(SIGNED_OUT)
    if task_id is not None and not found.pop("allowed"):
        raise PermissionDenied(
            f"rater '{found['rater_id']}' is not assigned to task '{task_id}'")
    found.pop("allowed", None)
    return found


def require(db: Database, session_id: str, task_id: str | None = None) -> dict[str, Any]:
    with db.cursor() as cur:
        return check(cur, session_id, task_id)


def sign_out(db: Database, session_id: str) -> None:
    with db.transaction() as cur:
        raters.delete_session(cur, hash_token(session_id))
