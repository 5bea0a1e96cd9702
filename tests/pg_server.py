"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temporary cluster.

`make test` installs Debian's `postgresql` package (Makefile target `postgresql`). The server
refuses to run as root, so when the tests run as root the cluster belongs to an unprivileged
user (`judge-app-pg`, made by the Makefile, else `nobody`). It listens on 127.0.0.1 on a free
port and on a Unix socket in its own folder; trust authentication, because nothing but this
test run can reach it. Durability settings are off (fsync, synchronous_commit): the cluster
is thrown away at the end, and the tests check concurrency, not crash safety of PostgreSQL.

No skip: a machine where PostgreSQL cannot start fails the tests that need it, with the reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "judge"
SERVICE_USERS = ("judge-app-pg", "nobody")


def find_bin(name: str) -> str:
    """A PostgreSQL server binary: Debian keeps them out of PATH, under /usr/lib/postgresql."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise RuntimeError(
        f"PostgreSQL's {name} was not found under /usr/lib/postgresql/*/bin: run `make test` "
        "(it installs Debian's postgresql package) or `apt-get install postgresql`")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _service_user() -> pwd.struct_passwd | None:
    """Who runs the server: this user unless it is root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in SERVICE_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and neither user judge-app-pg nor nobody exists to run "
                       "PostgreSQL (the Makefile's postgresql target creates judge-app-pg)")


@dataclass
class PgServer:
    """A running throwaway cluster; ``url(dbname)`` names a database on it."""

    folder: Path
    port: int
    pg_ctl: str
    user: pwd.struct_passwd | None
    _counter: int = 0
    keep: bool = False  # a cluster kept between runs (benchmarks' cache): stop, never delete

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def admin(self, sql: str) -> None:
        """Run a statement as the superuser on the maintenance database (autocommit)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; its URL."""
        self._counter += 1
        name = f"{prefix}_{os.getpid()}_{self._counter}"
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def restart(self) -> None:
        """Stop the server (every connection drops; fast mode: the throwaway cluster runs
        without fsync, so an immediate stop would lose commits) and start it again."""
        _run([self.pg_ctl, "-D", str(self.folder / "data"), "-l", str(self.folder / "server.log"),
              "-m", "fast", "-w", "-t", "60", "restart"], self.user)

    def stop(self) -> None:
        mode = "fast" if self.keep else "immediate"  # a kept cluster must come back intact
        _run([self.pg_ctl, "-D", str(self.folder / "data"), "-m", mode, "-w", "stop"],
             self.user, check=False)
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)


def _run(cmd: list[str], user: pwd.struct_passwd | None, check: bool = True,
         ) -> subprocess.CompletedProcess[str]:
    kwargs: dict[str, object] = {}
    if user is not None:
        kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    return subprocess.run(cmd, capture_output=True, text=True, check=check, cwd="/",
                          **kwargs)  # type: ignore[call-overload]


def start(folder: Path | None = None, settings: str = "") -> PgServer:
    """initdb into a new temporary folder and start the server; raises with the reason.

    With ``folder`` (the benchmarks' cache of built databases), the cluster there is started
    again when it exists, made there when not, and kept when stopped. ``settings`` are more
    ``-c name=value`` options, overriding the defaults (e.g. durable commits)."""
    initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
    user = _service_user()
    keep = folder is not None
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="judge-pg-"))
    folder.mkdir(parents=True, exist_ok=True)
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
    os.chmod(folder, 0o700)
    data, sock = folder / "data", folder / "sock"
    try:
        if not (data / "PG_VERSION").exists():
            _run([initdb, "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync"], user)
        sock.mkdir(exist_ok=True)
        if user is not None:
            os.chown(sock, user.pw_uid, user.pw_gid)
        port = _free_port()
        options = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
                   f"-c shared_buffers=32MB {settings}")
        _run([pg_ctl, "-D", str(data), "-l", str(folder / "server.log"), "-o", options,
              "-w", "-t", "60", "start"], user)
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        log = folder / "server.log"
        if log.exists():
            detail += log.read_text(errors="replace")[-2000:]
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"could not start a throwaway PostgreSQL server: {exc}\n{detail}"
                           ) from exc
    server = PgServer(folder, port, pg_ctl, user, keep=keep)
    deadline = time.monotonic() + 30
    while True:  # pg_ctl -w waited already; make sure TCP answers too
        try:
            server.admin("SELECT 1")
            return server
        except Exception:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.1)
