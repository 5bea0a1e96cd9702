"""A unit of work carried out by the process that owns the database file.

``RemoteCursor`` offers the part of DuckDB's cursor that the storage layer uses (execute with
chained fetchone/fetchall/df, description, register/unregister of a DataFrame, a relation
query as Arrow), and forwards each call to the owner over its socket. Only SQL, parameters and
data cross the socket; the command itself (progress bars, Ctrl-C, API keys, files) stays in
the process that runs it.
"""

from __future__ import annotations

import builtins
import contextlib
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from judge_app.errors import DatabaseOwnerLost
from judge_app.storage import wire
from judge_app.storage.owner import socket_candidates

if TYPE_CHECKING:  # only frames and tables need them; plain rows cross the socket as JSON
    import pandas as pd
    import pyarrow as pa


def connect(db_file: Path, timeout: float = 5.0) -> RemoteCursor | None:
    """A session with the live owner of ``db_file``, or None when nobody serves it."""
    for path in socket_candidates(db_file):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(str(path))
            wire.send(sock, {"op": "hello", "protocol": wire.PROTOCOL})
            reply, _ = wire.recv(sock)
        except (OSError, wire.PeerGone):
            sock.close()
            continue
        if not reply.get("ok"):
            sock.close()
            if reply.get("type") == "ProtocolError":
                raise DatabaseOwnerLost(f"{db_file}: {reply.get('message')}")
            continue  # the owner is closing: look again
        sock.settimeout(None)
        return RemoteCursor(sock, db_file, int(reply["pid"]))
    return None


def _error(header: dict[str, Any]) -> Exception:
    name, message = str(header.get("type")), str(header.get("message"))
    cls = getattr(duckdb, name, None)
    if isinstance(cls, type) and issubclass(cls, duckdb.Error):
        return cls(message)
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls(message)
    return duckdb.Error(f"{name}: {message}")


class _Relation:
    def __init__(self, cursor: RemoteCursor, sql: str, params: Any) -> None:
        self._cursor, self._sql, self._params = cursor, sql, params

    def to_arrow_table(self) -> pa.Table:
        _, body = self._cursor._call({"op": "sql_arrow", "sql": self._sql,
                                      "params": _params(self._params)})
        return wire.bytes_to_table(body)


def _params(params: Any) -> Any:
    """Positional parameters as a list, named ones ($name) as a dict, values tagged."""
    if isinstance(params, dict):
        return {"named": {str(k): wire.encode(v) for k, v in params.items()}}
    return [wire.encode(p) for p in params] if params else []


class RemoteCursor:
    """One remote unit of work; not shared between threads (like a DuckDB cursor)."""

    def __init__(self, sock: socket.socket, db_file: Path, owner_pid: int) -> None:
        self._sock = sock
        self.db_file = db_file
        self.owner_pid = owner_pid
        self.broken = False
        self._names: list[str] | None = None

    def _call(self, header: dict[str, Any], body: bytes = b"") -> tuple[dict[str, Any], bytes]:
        if self.broken:
            raise DatabaseOwnerLost(self._lost_message(header))
        try:
            wire.send(self._sock, header, body)
            reply, out = wire.recv(self._sock)
        except (OSError, wire.PeerGone) as exc:
            self.broken = True
            raise DatabaseOwnerLost(self._lost_message(header)) from exc
        except BaseException:  # Ctrl-C between request and answer: the stream is out of step
            self.broken = True
            self.close()
            raise
        if not reply.get("ok"):
            raise _error(reply)
        return reply, out

    def _lost_message(self, header: dict[str, Any]) -> str:
        committing = header.get("op") == "execute" and str(
            header.get("sql", "")).strip().upper().startswith("COMMIT")
        step = ("the last step may or may not have been saved" if committing
                else "the unfinished step was not saved")
        return (f"the judge-app process (pid {self.owner_pid}) that holds {self.db_file} "
                f"stopped while this command was working through it; {step}, everything "
                "acknowledged before is kept. Run the command again (repeating it is safe).")

    # -- the DuckDB cursor surface the storage layer uses ----------------------------------
    def execute(self, sql: str, params: Any = None) -> RemoteCursor:
        reply, _ = self._call({"op": "execute", "sql": sql, "params": _params(params)})
        self._names = list(reply["names"]) if reply.get("has_description") else None
        return self

    @property
    def description(self) -> list[tuple[Any, ...]] | None:
        if self._names is None:
            return None
        return [(n, None, None, None, None, None, None) for n in self._names]

    def fetchone(self) -> tuple[Any, ...] | None:
        reply, _ = self._call({"op": "fetchone"})
        row = reply.get("row")
        return None if row is None else tuple(wire.decode(row))

    def fetchall(self) -> list[tuple[Any, ...]]:
        reply, _ = self._call({"op": "fetchall"})
        return [tuple(wire.decode(r)) for r in reply["rows"]]

    def df(self) -> pd.DataFrame:
        _, body = self._call({"op": "df"})
        return wire.bytes_to_frame(body)

    def sql(self, query: str, params: Any = None) -> _Relation:
        return _Relation(self, query, params)

    def complete(self) -> None:
        self._call({"op": "complete"})

    def register(self, name: str, frame: pd.DataFrame | pa.Table) -> RemoteCursor:
        import pyarrow as pa

        table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(
            frame, preserve_index=False)
        self._call({"op": "register", "name": name}, wire.table_to_bytes(table))
        return self

    def unregister(self, name: str) -> RemoteCursor:
        self._call({"op": "unregister", "name": name})
        return self

    def close(self) -> None:
        if not self.broken:
            with contextlib.suppress(OSError):
                wire.send(self._sock, {"op": "bye"})
        self.broken = True
        with contextlib.suppress(OSError):
            self._sock.close()
