"""Raters and their login links; tokens are shown once and stored only as hashes."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judge_app.errors import NotFoundError, ValidationError
from judge_app.services.lookup import task_not_found
from judge_app.storage import catalog, raters
from judge_app.storage.db import Database

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewLogin:
    rater_id: str
    token: str

    def link(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/?token={self.token}"


def add_rater(
    db: Database, name: str, *, admin: bool = False, tasks: list[str] | None = None,
) -> NewLogin:
    """Create a person who can log in; a second call for the same name issues a new token."""
    if not _NAME.match(name):
        raise ValidationError(
            f"rater name '{name}' must be 1-64 letters, digits, '.', '_', '@' or '-'",
            field="name",
        )
    token = secrets.token_urlsafe(24)
    with db.transaction() as cur:
        for task in tasks or []:
            if catalog.get_task(cur, task) is None:
                raise task_not_found(cur, task)
        existing = raters.get_rater(cur, name)
        if existing is None:
            raters.insert_rater(cur, name, "human", admin, hash_token(token))
        elif existing["source"] != "human":
            raise ValidationError(f"'{name}' is a judge, not a person", field="name")
        else:  # the old link and every session opened with it stop working
            raters.set_token_hash(cur, name, hash_token(token))
            raters.delete_sessions_of(cur, name)
        for task in tasks or []:
            raters.assign_task(cur, name, task)
    return NewLogin(name, token)


def authenticate(db: Database, token: str) -> dict[str, Any] | None:
    """The rater a token belongs to, or None for an unknown token."""
    if not token:
        return None
    with db.cursor() as cur:
        return raters.rater_by_token_hash(cur, hash_token(token.strip()))


def list_raters(db: Database) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        return raters.list_raters(cur)


def set_disabled(db: Database, name: str, disabled: bool = True) -> None:
    with db.transaction() as cur:
        if raters.get_rater(cur, name) is None:
            raise NotFoundError(f"no rater named '{name}'")
        raters.set_disabled(cur, name, disabled)
        if disabled:  # open tabs are signed out at their next click
            raters.delete_sessions_of(cur, name)


def assign_tasks(db: Database, name: str, tasks: list[str]) -> None:
    with db.transaction() as cur:
        if raters.get_rater(cur, name) is None:
            raise NotFoundError(f"no rater named '{name}'")
        for task in tasks:
            if catalog.get_task(cur, task) is None:
                raise task_not_found(cur, task)
            raters.assign_task(cur, name, task)


def tasks_for(db: Database, rater: dict[str, Any]) -> list[str]:
    """Admins see every task; others only those they are assigned to."""
    with db.cursor() as cur:
        if rater.get("is_admin"):
            return [t["task_id"] for t in catalog.list_tasks(cur)]
        return raters.tasks_of_rater(cur, rater["rater_id"])


BASE_URL_SETTING = "base_url"


def remember_base_url(db: Database, base_url: str) -> None:
    """Where `judge-app serve` listens, so links printed elsewhere point at it."""
    with db.transaction() as cur:
        raters.set_setting(cur, BASE_URL_SETTING, base_url.rstrip("/"))


def base_url(db: Database) -> str | None:
    """The address the server of this database was last started on, if any."""
    with db.cursor() as cur:
        return raters.get_setting(cur, BASE_URL_SETTING)


def admin_link_file(db_path: Path) -> Path:
    """Where `serve --print-admin-link` keeps the admin's token: beside the database, 0600."""
    return db_path.with_name(db_path.name + ".admin-token")


def admin_login(db: Database, keep: Path) -> tuple[NewLogin, bool]:
    """The 'admin' login issued before, while it still works; else a new one, kept in
    ``keep`` (readable by its owner only) so the next start prints the same link.

    Returns the login and whether it is new. Issuing a new link for 'admin' elsewhere
    (`judge-app raters add admin --admin`) makes the kept one stale: the next start issues
    and keeps a fresh one.
    """
    try:
        token = keep.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    rater = authenticate(db, token) if token else None
    if rater and rater["rater_id"] == "admin" and rater["is_admin"] and not rater["disabled"]:
        return NewLogin("admin", token), False
    login = add_rater(db, "admin", admin=True)
    tmp = keep.with_name(keep.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(login.token + "\n")
    os.replace(tmp, keep)
    return login, True
