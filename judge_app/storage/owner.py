"""The one process that has the DuckDB file open, and the socket through which others use it.

DuckDB promises one writing process per file, not a hand-off between processes, so a file has
one owner at a time: the first judge_app process that needs it opens it, keeps one connection
for its whole life, and serves every other judge_app process on that machine through a Unix
socket next to the file (``<db>.sock``, mode 0600, peers checked to be the same user). Each
client connection is one unit of work with its own cursor on the owner's connection; when a
client goes away mid-transaction, the owner rolls the transaction back. A COMMIT is answered
only after DuckDB committed it, so an acknowledged write is a stored write.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

from judge_app.storage import wire
from judge_app.storage.plain import pandas_allowed

_SO_PEERCRED_FORMAT = "3i"  # pid, uid, gid
# Operations that load pandas or move frames: they wait for a plain_values block (plain.py).
_NEEDS_PANDAS = frozenset({"df", "sql_arrow", "register"})


def socket_candidates(db_file: Path) -> list[Path]:
    """Where the owner of ``db_file`` listens, in the order clients look: next to the file when
    that path fits AF_UNIX's limit, else (or also) a private per-user folder in the temp dir."""
    resolved = db_file.resolve()
    beside = resolved.with_name(resolved.name + ".sock")
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:24]
    private = Path(tempfile.gettempdir()) / f"judge-app-{os.getuid()}" / f"{digest}.sock"
    found = [beside] if len(os.fsencode(beside)) < 104 else []
    return [*found, private]


def _private_folder(path: Path) -> bool:
    """Create the per-user socket folder (0700) and check nobody else owns or can enter it."""
    folder = path.parent
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    st = folder.lstat()
    return st.st_uid == os.getuid() and (st.st_mode & 0o077) == 0 and folder.is_dir()


def _decode_params(params: Any) -> Any:
    if isinstance(params, dict):
        return {k: wire.decode(v) for k, v in params["named"].items()}
    return [wire.decode(p) for p in params] if params else None


class Owner:
    """This process's single connection to one file, plus the listener that shares it."""

    def __init__(self, path: Path, conn: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self.conn = conn
        self.cond = threading.Condition()
        self.in_flight = 0  # local units of work and remote sessions
        self.closing = False
        self.closed = False
        self.sessions: set[socket.socket] = set()
        self.listener: socket.socket | None = None
        self.socket_path: Path | None = None
        self._socket_ino: int | None = None

    # -- units of work -------------------------------------------------------------------
    def enter(self) -> bool:
        with self.cond:
            if self.closing:
                return False
            self.in_flight += 1
            return True

    def leave(self) -> None:
        with self.cond:
            self.in_flight -= 1
            self.cond.notify_all()

    # -- listening -----------------------------------------------------------------------
    def listen(self) -> None:
        """Serve other processes; a folder we cannot write to falls back to the private one."""
        for candidate in socket_candidates(self.path):
            try:
                if candidate.parent.name.startswith("judge-app-") and not _private_folder(
                        candidate):
                    continue
                self._bind(candidate)
                break
            except OSError:
                continue
        else:
            print(f"warning: cannot create a socket for {self.path}; other judge-app commands "
                  "will wait until this one ends", file=sys.stderr)
            return
        threading.Thread(target=self._accept_loop, name="judge-app-owner", daemon=True).start()

    def _bind(self, final: Path) -> None:
        # Bind under a temporary name, restrict it, then rename over any stale socket: clients
        # never see a socket with loose permissions, and only the lock holder gets here.
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(tmp))
            os.chmod(tmp, 0o600)
            sock.listen(64)
            os.replace(tmp, final)
        except OSError:
            sock.close()
            tmp.unlink(missing_ok=True)
            raise
        self.listener = sock
        self.socket_path = final
        self._socket_ino = final.stat().st_ino

    def _accept_loop(self) -> None:
        listener = self.listener
        assert listener is not None
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # listener closed
            if not self._same_user(client):
                client.close()
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    @staticmethod
    def _same_user(client: socket.socket) -> bool:
        try:
            creds = client.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                      struct.calcsize(_SO_PEERCRED_FORMAT))
        except OSError:
            return False
        _, uid, _ = struct.unpack(_SO_PEERCRED_FORMAT, creds)
        return bool(uid == os.getuid())

    def _serve(self, client: socket.socket) -> None:
        try:
            header, _ = wire.recv(client)
            if header.get("op") != "hello" or header.get("protocol") != wire.PROTOCOL:
                wire.send(client, {"ok": False, "type": "ProtocolError",
                                   "message": "judge_app versions differ between processes"})
                return
            if not self.enter():
                wire.send(client, {"ok": False, "closing": True})
                return
            try:
                with self.cond:
                    self.sessions.add(client)
                wire.send(client, {"ok": True, "pid": os.getpid()})
                self._session(client)
            finally:
                with self.cond:
                    self.sessions.discard(client)
                self.leave()
        except (wire.PeerGone, OSError):
            pass
        finally:
            client.close()

    def _session(self, client: socket.socket) -> None:
        cur = self.conn.cursor()
        try:
            while True:
                header, body = wire.recv(client)
                if header.get("op") == "bye":
                    return
                try:
                    if header.get("op") in _NEEDS_PANDAS:
                        with pandas_allowed():
                            reply, out = self._op(cur, header, body)
                    else:
                        reply, out = self._op(cur, header, body)
                except Exception as exc:  # the client re-raises it as the same DuckDB error
                    reply, out = {"ok": False, "type": type(exc).__name__,
                                  "message": str(exc)}, b""
                wire.send(client, reply, out)
        finally:
            # A client that left mid-transaction (killed, Ctrl-C, lost) gets it rolled back.
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            cur.close()

    @staticmethod
    def _op(cur: duckdb.DuckDBPyConnection, header: dict[str, Any],
            body: bytes) -> tuple[dict[str, Any], bytes]:
        op = header["op"]
        if op == "execute":
            cur.execute(header["sql"], _decode_params(header.get("params")))
            names = [d[0] for d in cur.description or []]
            return {"ok": True, "names": names, "has_description": cur.description is not None}, b""
        if op == "fetchone":
            row = cur.fetchone()
            return {"ok": True, "row": None if row is None else wire.encode(tuple(row))}, b""
        if op == "fetchall":
            return {"ok": True, "rows": [wire.encode(tuple(r)) for r in cur.fetchall()]}, b""
        if op == "df":
            return {"ok": True}, wire.frame_to_bytes(cur.df())
        if op == "sql_arrow":
            table = cur.sql(header["sql"],
                            params=_decode_params(header.get("params"))).to_arrow_table()
            return {"ok": True}, wire.table_to_bytes(table)
        if op == "register":
            cur.register(header["name"], wire.bytes_to_table(body))
            return {"ok": True}, b""
        if op == "unregister":
            cur.unregister(header["name"])
            return {"ok": True}, b""
        if op == "complete":
            complete = getattr(cur, "complete", None)
            if complete is not None:
                complete()
            return {"ok": True}, b""
        raise ValueError(f"unknown operation {op!r}")

    # -- closing -------------------------------------------------------------------------
    def close(self, drain_seconds: float = 60.0) -> None:
        """Stop serving, let units of work in flight finish (up to ``drain_seconds``), close."""
        with self.cond:
            if self.closing:
                while not self.closed:
                    self.cond.wait(0.05)
                return
            self.closing = True
        self._stop_listening()
        deadline = time.monotonic() + drain_seconds
        told = False
        with self.cond:
            while self.in_flight and time.monotonic() < deadline:
                if not told and self.sessions and time.monotonic() > deadline - drain_seconds + 1:
                    print(f"finishing work of {len(self.sessions)} other judge-app process(es) "
                          f"that use {self.path} through this one", file=sys.stderr)
                    told = True
                self.cond.wait(0.05)
            for s in list(self.sessions):  # drain timed out: cut them off (they roll back)
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            end = time.monotonic() + 5
            while self.in_flight and time.monotonic() < end:
                self.cond.wait(0.05)
        self.conn.close()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _stop_listening(self) -> None:
        if self.listener is None:
            return
        with contextlib.suppress(OSError):
            if self.socket_path is not None and self.socket_path.stat().st_ino == self._socket_ino:
                self.socket_path.unlink()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
