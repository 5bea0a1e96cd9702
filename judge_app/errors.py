"""One error family for the whole app: the CLI prints the message and exits 1, the UI shows it."""

from __future__ import annotations

import errno

_FULL_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
_FULL_TEXTS = ("No space left on device", "File too large", "Disk quota exceeded")


class JudgeAppError(Exception):
    """Base of every error that is meant for the user, not a bug."""


class ValidationError(JudgeAppError):
    """Bad input: names the file, the line and the field where it can."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file, self.line, self.field = file, line, field
        where = ":".join(str(p) for p in (file, line) if p is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field '{field}')" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")


class NotFoundError(JudgeAppError):
    """A task, rater, assignment or model that does not exist."""


class PermissionDenied(JudgeAppError):
    """A rater acting outside their rights (another rater's assignment, an admin page)."""


class SignedOut(PermissionDenied):
    """A browser session that ended (signed out, rater disabled, new login link, expired)."""


class SchemaError(JudgeAppError):
    """The database schema does not match this version of the code."""


class DatabaseBusy(JudgeAppError):
    """Another process kept the database file locked for longer than we are willing to wait."""


class DiskFull(JudgeAppError):
    """No space left (or a file size limit) while writing: what was being written is undone."""

    def __init__(self, file: str, what: str = "") -> None:
        self.file = file
        super().__init__(f"no space left writing {file}" + (f"; {what}" if what else ""))


def is_disk_full(exc: BaseException) -> bool:
    """A write that failed for want of space or a file size limit (OSError or a database's
    error that quotes the system's words)."""
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    return any(text in str(exc) for text in _FULL_TEXTS)


class DatabaseFileError(JudgeAppError):
    """The database path is missing, a folder, unreadable, unwritable or not a DuckDB file."""


class DatabaseOwnerLost(JudgeAppError):
    """The process that owns the database file stopped while this one worked through it."""


class NoVerdicts(ValidationError):
    """The task, or the slice of it asked for, has no verdicts to compute from: a report
    says 'nothing yet' for it instead of failing."""
