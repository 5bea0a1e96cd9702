"""The deployment files: docker-compose.yml and the nginx proxy config it mounts.

There is no docker daemon where these tests run, so the compose file is never started here.
What is checked instead: the compose file parses and wires the services together as
docs/deployment.md says; and the SAME nginx config (deploy/nginx.conf, with only its upstream
addresses, ports and file paths substituted) runs in Debian's nginx in front of two real
`judge-app serve` processes on one throwaway PostgreSQL database, where real chromium tabs
through TLS keep each browser (its page, its websocket, its votes) on one server while both
servers serve.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from judge_app.services import raters
from judge_app.services.imports import import_bundle
from judge_app.storage.schema import open_database
from tests.browser_helpers import TIMEOUT, judge_with_keys, open_rater_page, serving, task
from tests.pg_server import PgServer

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
NGINX = "/usr/sbin/nginx"
APPS = ("app1", "app2")


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def block(conf: str, head: str) -> str:
    """The text between the braces of the first block starting with ``head`` (braces nest)."""
    start = conf.index(head)
    depth, i = 0, conf.index("{", start)
    for j in range(i, len(conf)):
        depth += {"{": 1, "}": -1}.get(conf[j], 0)
        if depth == 0:
            return conf[i + 1:j]
    raise AssertionError(f"{head}: block not closed")


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def env_var(value: str) -> str:
    """The variable a compose value reads, e.g. ``${X:?msg}`` -> ``X``."""
    m = re.fullmatch(r"\$\{(\w+)(?::?[-?][^}]*)?\}", value)
    assert m, f"{value!r} is not read from the environment"
    return m.group(1)


# -- the compose file and the proxy config, read ----------------------------------------------
def test_compose_runs_two_app_servers_a_proxy_and_postgresql() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "app1", "app2", "proxy"}

    db = services["db"]
    name, _, tag = db["image"].partition(":")
    assert name == "postgres" and int(tag.split(".")[0]) >= 15
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    assert "pg_isready" in db["healthcheck"]["test"]
    password_var = env_var(db["environment"]["POSTGRES_PASSWORD"])

    secrets = set()
    for app in APPS:
        s = services[app]
        assert s["command"][:2] == ["judge-app", "serve"]
        assert option(s["command"], "--host") == "0.0.0.0"
        url = urlsplit(s["environment"]["JUDGE_APP_DB"])
        assert url.scheme == "postgresql" and url.hostname == "db"
        assert url.username == db["environment"]["POSTGRES_USER"]
        assert url.path == "/" + db["environment"]["POSTGRES_DB"]
        assert url.password is None  # no password in a URL that is printed and logged
        assert env_var(s["environment"]["PGPASSWORD"]) == password_var
        secrets.add(s["environment"]["STREAMLIT_SERVER_COOKIE_SECRET"])
        assert s["depends_on"]["db"]["condition"] == "service_healthy"
        assert (ROOT / s["build"] / "Dockerfile").exists()
    assert len(secrets) == 1  # one cookie secret for all app servers

    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in proxy["volumes"]}
    assert (ROOT / mounts["/etc/nginx/nginx.conf"]).resolve() == NGINX_CONF
    assert "443:443" in proxy["ports"]
    assert set(proxy["depends_on"]) == set(APPS)


def test_the_proxy_config_names_every_app_server_and_keeps_browsers_on_one() -> None:
    services = compose()["services"]
    conf = NGINX_CONF.read_text()
    upstream = block(conf, "upstream judge_app")
    servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", upstream, re.M)
    assert servers == [(app, option(services[app]["command"], "--port")) for app in APPS]
    # sticky: a hash of the route cookie (or the client's address)
    assert re.search(r"^\s*(hash \$judge_route consistent|ip_hash);", upstream, re.M)
    assert 'map $cookie_judge_route $judge_route' in conf

    https = block(conf, "server {\n        listen 443 ssl")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["proxy"]["volumes"]}
    for directive in ("ssl_certificate", "ssl_certificate_key"):
        path = re.search(rf"^\s*{directive}\s+(\S+);", https, re.M)
        assert path and path.group(1).startswith("/etc/nginx/certs/")
    assert "/etc/nginx/certs" in mounts
    assert "proxy_http_version 1.1;" in https
    stream = block(https, "location /_stcore/stream")
    assert "proxy_pass http://judge_app;" in stream
    assert "proxy_set_header Upgrade $http_upgrade;" in stream
    assert "proxy_set_header Connection $connection_upgrade;" in stream
    assert "proxy_read_timeout" in stream



def test_the_local_images_stand_in_for_every_public_one_and_change_nothing_else() -> None:
    """deploy/local-images/compose.yml (no Docker Hub) swaps images and the app's base image
    only; the Dockerfile's default base stays the public one a user with Docker Hub gets."""
    services = compose()["services"]
    local = yaml.safe_load((ROOT / "deploy/local-images/compose.yml").read_text())["services"]
    # an override naming a service the base file lacks would create a half-defined one
    assert set(local) == set(services)
    for name, s in services.items():
        if "image" in s:
            assert set(local[name]) == {"image"}
            assert local[name]["image"].startswith("local/")
        else:
            assert local[name] == {"build": {"context": s["build"],
                                             "args": {"PYTHON_IMAGE": "local/python:bookworm"}}}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim-bookworm$", dockerfile, re.M)
    assert re.findall(r"^FROM .*$", dockerfile, re.M) == ["FROM ${PYTHON_IMAGE}"]
    for image in ("python", "postgres", "nginx"):
        assert (ROOT / f"deploy/local-images/{image}.Dockerfile").exists()

# -- the same proxy config, running -----------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def runnable_conf(conf: str, folder: Path, apps: list[str], http: int, https: int) -> str:
    """deploy/nginx.conf with this machine's upstreams, ports and files; nothing else."""
    subs = [
        (r"server app1:8501 ", f"server {apps[0]} "),
        (r"server app2:8501 ", f"server {apps[1]} "),
        (r"listen 80;", f"listen 127.0.0.1:{http};"),
        (r"listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;"),
        (r"/etc/nginx/certs/", f"{folder}/certs/"),
        (r"/var/log/nginx/", f"{folder}/"),
        (r"pid /tmp/nginx.pid;", f"pid {folder}/nginx.pid;"),
    ]
    for old, new in subs:
        assert old in conf, old
        conf = conf.replace(old, new)
    temp = "".join(f"    {kind}_temp_path {folder}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return conf.replace("http {\n", "http {\n" + temp, 1)  # not Debian's www-data folders


@contextmanager
def nginx_in_front_of(apps: list[str]) -> Iterator[tuple[str, Path]]:
    assert Path(NGINX).exists(), "Debian's nginx is not installed: run `make nginx`"
    folder = Path(tempfile.mkdtemp(prefix="judge-nginx-"))
    os.chmod(folder, 0o755)  # nginx's workers run as nobody when started by root
    (folder / "certs").mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(folder / "certs/privkey.pem"),
                    "-out", str(folder / "certs/fullchain.pem")], check=True,
                   capture_output=True)
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / kind).mkdir(mode=0o777)
        os.chmod(folder / kind, 0o777)
    http, https = _free_port(), _free_port()
    conf = folder / "nginx.conf"
    conf.write_text(runnable_conf(NGINX_CONF.read_text(), folder, apps, http, https))
    proc = subprocess.Popen([NGINX, "-e", str(folder / "error.log"), "-p", str(folder),
                             "-c", str(conf), "-g", "daemon off;"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", https), timeout=1).close()
                break
            except OSError:
                out = proc.stdout.read().decode() if proc.poll() is not None and proc.stdout \
                    else ""
                assert proc.poll() is None and time.monotonic() < deadline, \
                    f"nginx did not start: {out}"
                time.sleep(0.1)
        yield f"https://127.0.0.1:{https}", folder / "access.log"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


def served_by(log: Path) -> dict[str, list[tuple[str, str, str]]]:
    """Each route cookie's requests: (request line, status, upstream) from the access log."""
    routes: dict[str, list[tuple[str, str, str]]] = {}
    for line in log.read_text().splitlines():
        m = re.search(r'"([^"]*)" (\d+) route=(\S+) upstream=(\S+)$', line)
        assert m, line
        request, status, route, upstream = m.groups()
        routes.setdefault(route, []).append((request, status, upstream))
    return routes


def closed_sockets_logged(log: Path, browsers: int) -> dict[str, list[tuple[str, str, str]]]:
    """The access log once every closed browser's websocket is in it (nginx writes a
    websocket's line when it closes)."""
    deadline = time.monotonic() + 20
    while True:
        routes = served_by(log)
        streams = [r for r, reqs in routes.items()
                   if any(q.startswith("GET /_stcore/stream") for q, _, _ in reqs)]
        if len(streams) >= browsers or time.monotonic() > deadline:
            return routes
        time.sleep(0.2)


@pytest.mark.browser
def test_nginx_keeps_each_browser_on_one_of_two_servers(pg_server: PgServer,
                                                        browser: Any) -> None:
    url = pg_server.new_database("proxy")
    db = open_database(url)
    import_bundle(db, task("duo", 12, ("m1", "m2")))
    tokens = [raters.add_rater(db, f"r{i}", tasks=["duo"]).token for i in range(12)]
    with serving(url) as one, serving(url) as two:
        apps = [urlsplit(one).netloc, urlsplit(two).netloc]
        with nginx_in_front_of(apps) as (proxy, log):
            voted = 0
            seen: set[str] = set()
            for token in tokens:  # new browsers until both servers have served some
                context = browser.new_context(ignore_https_errors=True)
                context.set_default_timeout(TIMEOUT)
                page = context.new_page()
                open_rater_page(page, f"{proxy}/?token={token}", re.compile(r"^0 / \d+ done$"))
                judge_with_keys(page, "1", "A is better", re.compile(r"^1 / \d+ done$"))
                voted += 1
                route = {c["name"]: c["value"] for c in context.cookies()}["judge_route"]
                context.close()
                upstreams = {u for _, _, u in served_by(log)[route]}
                seen |= upstreams
                if voted >= 3 and seen == set(apps):
                    break
            routes = closed_sockets_logged(log, voted)

    assert seen == set(apps), f"every browser went to one server: {seen}"
    for route, requests in routes.items():
        assert len({u for _, _, u in requests}) == 1, (route, requests)  # sticky
        sockets = [s for r, s, _ in requests if r.startswith("GET /_stcore/stream")]
        assert sockets and set(sockets) == {"101"}, (route, requests)  # upgraded, via TLS
    assert len(routes) == voted
    with db.cursor() as cur:  # both servers wrote to the one database
        stored = cur.execute("SELECT count(*) FROM active_verdicts WHERE task_id = 'duo'"
                             ).fetchone()
    db.close()
    assert stored == (voted,)
