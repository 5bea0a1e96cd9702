"""Which process owns a judge run, and whether it is still there.

A run killed with SIGKILL cannot mark itself finished. Its row keeps the owner's pid, host
and process start time; a reader on the same host asks the OS whether that very process
still lives (a reused pid has another start time; a killed child not yet reaped is a
zombie, which counts as gone). On another host only the heartbeat can tell: the runner
refreshes `updated_at` about once a second, so a row silent for minutes has no live owner.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

STALE_AFTER_S = 300.0  # heartbeat silence that means the owner is gone


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), or None if unknown."""
    state_and_start = _stat(pid)
    return state_and_start[1] if state_and_start else None


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ... starttime(22) ...": comm may hold spaces and parentheses.
    fields = text[text.rfind(")") + 2:].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def current_owner() -> dict[str, Any]:
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "pid_started": process_start(pid)}


def owner_alive(run: dict[str, Any]) -> bool:
    """Is the process that runs this 'running' row still there? `heartbeat_age_s`: seconds
    since the row was last updated."""
    pid, host = run.get("pid"), run.get("host")
    if pid is not None and host == socket.gethostname():
        stat = _stat(int(pid))
        if stat is not None:
            state, started = stat
            if state in ("Z", "X"):  # killed, not yet reaped by its parent
                return False
            return run.get("pid_started") is None or started == run["pid_started"]
        if Path("/proc/self/stat").exists():  # Linux, and no such process
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # someone else's process
        return True
    age = run.get("heartbeat_age_s")
    return age is None or float(age) < STALE_AFTER_S
