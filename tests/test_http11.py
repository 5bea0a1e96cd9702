"""The lean HTTP/1.1 pool (judges/http11.py) against real local servers: a raw-socket server
scripted byte by byte (framings, interim answers, codings, closes and resets), the fake
OpenAI server, and uvicorn (h11) as vLLM and LiteLLM serve. No mocks."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import ssl
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from judge_app.judges import http11
from judge_app.judges.client import CallResult, ChatClient, JudgeCallError
from tests.fake_openai_server import FakeOpenAIServer, Reply, Request

T = TypeVar("T")
MESSAGES = [{"role": "user", "content": "Say hello"}]
# bytes sent, "close", "reset", a pause, a function (its bytes, if any, are sent)
Action = bytes | str | float | Callable[[], bytes | None]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def completion(text: str = "hello there") -> bytes:
    return json.dumps({"id": "c1", "object": "chat.completion", "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": text},
         "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2,
                                             "total_tokens": 5}}).encode()


def answer(body: bytes, *, fields: bytes = b"", version: bytes = b"HTTP/1.1",
           length: bool = True) -> bytes:
    head = version + b" 200 OK\r\nContent-Type: application/json\r\n"
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + fields + b"\r\n" + body


def chunked(pieces: list[bytes], *, extension: bytes = b"", trailers: bytes = b"") -> bytes:
    out = b"".join(b"%x%s\r\n%s\r\n" % (len(p), extension, p) for p in pieces)
    return out + b"0" + extension + b"\r\n" + trailers + b"\r\n"


class RawServer:
    """HTTP/1.1 on a bare socket, one thread a connection: it reads each request (framed by
    Content-Length), records it, and plays what `script(n, request_line)` returns for the
    n-th request (1-based): bytes to send, "close", "reset" (RST), seconds to pause, or a
    function to call (the bytes it returns are sent). After the actions the connection
    stays open for the next request."""

    def __init__(self, script: Callable[[int, bytes], list[Action]],
                 context: ssl.SSLContext | None = None) -> None:
        self.script, self.context = script, context
        self.requests: list[tuple[int, bytes, bytes]] = []  # (connection, head, body)
        self.connections = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> RawServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        if self.context is not None:
            try:
                conn = self.context.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                self.errors.append(f"handshake: {exc}")
                return
        data = b""
        try:
            while True:
                while b"\r\n\r\n" not in data:
                    more = conn.recv(65536)
                    if not more:
                        return
                    data += more
                head, _, data = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(data) < length:
                    data += conn.recv(65536)
                body, data = data[:length], data[length:]
                with self._lock:
                    self.requests.append((number, head, body))
                    n = len(self.requests)
                for action in self.script(n, head.split(b"\r\n")[0]):
                    if isinstance(action, bytes):
                        conn.sendall(action)
                    elif isinstance(action, float):
                        time.sleep(action)
                    elif action == "close":
                        conn.close()
                        return
                    elif action == "reset":
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                        conn.close()
                        return
                    elif callable(action):
                        late = action()
                        if late:
                            conn.sendall(late)
        except OSError:
            return
        finally:
            conn.close()


def client(url: str, **kw: Any) -> ChatClient:
    kw = {"backoff_base_s": 0.01, "backoff_max_s": 0.02, "seed": 1, "retries": 0, **kw}
    return ChatClient(model="m", base_url=url, api_key="sk-test", **kw)


async def calls(url: str, n: int = 2, pause_s: float = 0.0, **kw: Any) -> list[CallResult]:
    out = []
    async with client(url, **kw) as c:
        assert c.transport == "lean", c.fallback_reason
        for _ in range(n):
            out.append(await c.complete(MESSAGES))
            await asyncio.sleep(pause_s)
    return out


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


# ---------------------------------------------------------------- framings

def test_the_request_carries_host_length_and_no_content_coding() -> None:
    with RawServer(lambda n, line: [answer(completion())]) as server:
        [result] = run(calls(server.base_url, 1))
    assert result.text == "hello there" and result.input_tokens == 3
    (_, head, body), = server.requests
    lines = head.split(b"\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(b":") for x in lines[1:])}
    assert lines[0] == b"POST /v1/chat/completions HTTP/1.1"
    assert fields[b"host"] == b"127.0.0.1:%d" % server.port
    assert fields[b"content-length"] == b"%d" % len(body)
    assert fields[b"accept-encoding"] == b"identity"
    assert fields[b"authorization"] == b"Bearer sk-test"
    assert json.loads(body)["messages"] == MESSAGES


def test_a_chunked_answer_with_extensions_and_trailers_keeps_the_connection() -> None:
    body = completion()
    framed = chunked([body[:10], body[10:25], body[25:]], extension=b";name=\"v\"",
                     trailers=b"X-Checksum: 1\r\nX-Other: 2\r\n")
    with RawServer(lambda n, line: [answer(framed, fields=b"Transfer-Encoding: chunked\r\n",
                                           length=False)]) as server:
        results = run(calls(server.base_url, 3))
    assert [r.text for r in results] == ["hello there"] * 3
    assert server.connections == 1  # read to its end (trailers too): reused


def test_an_answer_without_length_is_read_to_the_close() -> None:
    def script(n: int, line: bytes) -> list[Action]:
        return [answer(completion(f"call {n}"), length=False), 0.05, "close"]

    with RawServer(script) as server:
        results = run(calls(server.base_url, 2))
    assert [r.text for r in results] == ["call 1", "call 2"]
    assert server.connections == 2 and len(server.requests) == 2


@pytest.mark.parametrize(("version", "fields", "reused"), [
    (b"HTTP/1.1", b"Connection: close\r\n", False),
    (b"HTTP/1.0", b"", False),
    (b"HTTP/1.0", b"Connection: keep-alive\r\n", True),
    (b"HTTP/1.1", b"", True),
])
def test_connection_close_and_http_1_0_are_not_reused(version: bytes, fields: bytes,
                                                       reused: bool) -> None:
    def script(n: int, line: bytes) -> list[Action]:
        return [answer(completion(f"call {n}"), fields=fields, version=version)]

    with RawServer(script) as server:  # the server keeps the socket open: the client decides
        results = run(calls(server.base_url, 3))
    assert [r.text for r in results] == ["call 1", "call 2", "call 3"]
    assert server.connections == (1 if reused else 3)


def test_interim_answers_are_skipped() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    with RawServer(lambda n, line: [interim, 0.02, answer(completion())]) as server:
        results = run(calls(server.base_url, 2))
    assert [r.text for r in results] == ["hello there"] * 2 and server.connections == 1


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
def test_a_compressed_answer_is_decoded(coding: str) -> None:
    body = completion("compressed " * 50)
    if coding == "gzip":
        packed = gzip.compress(body)
    else:
        squash = zlib.compressobj(wbits=zlib.MAX_WBITS if coding == "deflate" else -15)
        packed = squash.compress(body) + squash.flush()
    name = coding.removeprefix("raw-").encode()
    framed = chunked([packed[:7], packed[7:]])
    with RawServer(lambda n, line: [answer(framed, length=False, fields=b"Content-Encoding: "
                                           b"%s\r\nTransfer-Encoding: chunked\r\n" % name)]
                   ) as server:
        [result] = run(calls(server.base_url, 1))
    assert result.text == "compressed " * 50


def test_a_gzip_transfer_coding_under_chunked_is_decoded() -> None:
    body = completion("transfer coded")
    with RawServer(lambda n, line: [answer(chunked([gzip.compress(body)]), length=False,
                                           fields=b"Transfer-Encoding: gzip, chunked\r\n")]
                   ) as server:
        [result] = run(calls(server.base_url, 1))
    assert result.text == "transfer coded"


def test_a_cut_compressed_body_is_an_error() -> None:
    packed = gzip.compress(completion())
    with RawServer(lambda n, line: [answer(packed[:-12], fields=b"Content-Encoding: gzip\r\n")]
                   ) as server, pytest.raises(JudgeCallError, match="cut short"):
        run(calls(server.base_url, 1))


def test_an_unknown_content_coding_is_a_clear_error() -> None:
    with RawServer(lambda n, line: [answer(b"\x00\x01", fields=b"Content-Encoding: br\r\n")]
                   ) as server, pytest.raises(JudgeCallError, match="Content-Encoding 'br'"):
        run(calls(server.base_url, 1))


def test_a_malformed_status_line_is_a_clear_error() -> None:
    async def go(url: str) -> None:
        pool = http11.ConnectionPool(url, max_connections=1)
        try:
            await pool.request(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n", b"{}",
                               stream=False)
        finally:
            await pool.aclose()

    with RawServer(lambda n, line: [b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n"]) as server:
        with pytest.raises(http11.RemoteProtocolError, match="malformed status line"):
            run(go(server.base_url))
        with pytest.raises(JudgeCallError, match="malformed status line"):
            run(calls(server.base_url, 1))


# ---------------------------------------------------------------- closes and resets

def test_a_keep_alive_connection_the_server_closed_does_not_fail_the_next_call() -> None:
    def script(n: int, line: bytes) -> list[Action]:  # keep-alive said, then a timeout
        return [answer(completion(f"call {n}")), 0.05, "close"]

    with RawServer(script) as server:
        results = run(calls(server.base_url, 3, pause_s=0.3))
    assert [r.text for r in results] == ["call 1", "call 2", "call 3"]
    assert all(r.attempts == 1 for r in results)  # no call failed, none retried
    assert len(server.requests) == 3 and server.connections == 3  # each sent exactly once


def test_a_reset_mid_answer_is_a_retryable_connection_error_not_resent() -> None:
    body = completion()

    def script(n: int, line: bytes) -> list[Action]:
        if n == 2:  # on the reused connection: half the answer, then a reset
            return [answer(body)[:60], 0.05, "reset"]
        return [answer(completion(f"call {n}"))]

    async def go(url: str) -> tuple[list[str], dict[str, int]]:
        async with client(url, retries=2) as c:
            first = await c.complete(MESSAGES)
            second = await c.complete(MESSAGES)  # reset once, then retried by the client
            assert second.attempts == 2
            return [first.text, second.text], c.stats.errors

    with RawServer(script) as server:
        texts, errors = run(go(server.base_url))
    assert texts == ["call 1", "call 3"] and errors == {"connection": 1}
    assert len(server.requests) == 3  # the pool itself never sent the request again

    async def once(url: str) -> None:
        pool = http11.ConnectionPool(url, max_connections=1)
        try:
            for _ in range(2):
                await pool.request(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n", b"{}",
                                   stream=False)
        finally:
            await pool.aclose()

    with RawServer(script) as server:
        with pytest.raises(http11.ReadError, match="closed the connection mid-answer"):
            run(once(server.base_url))
        assert len(server.requests) == 2


def test_a_stream_closed_early_closes_its_connection() -> None:
    body = completion()

    async def go(url: str) -> int:
        pool = http11.ConnectionPool(url, max_connections=2)
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        try:
            response = await pool.request(head, b"{}", stream=True)
            await response.aclose()  # body not read: this connection cannot be reused
            response = await pool.request(head, b"{}", stream=True)
            assert b"".join([x async for x in response.aiter_bytes()]) == body
            response = await pool.request(head, b"{}", stream=False)  # the read one is reused
            assert response.content == body
            return pool.opened
        finally:
            await pool.aclose()

    def script(n: int, line: bytes) -> list[Action]:  # the head alone, the body later
        whole = answer(body)
        return [whole[:-len(body)], 0.2, whole[-len(body):]]

    with RawServer(script) as server:
        assert run(go(server.base_url)) == 2
        assert server.connections == 2 and len(server.requests) == 3


def test_a_streamed_answer_reaches_the_caller_piece_by_piece() -> None:
    """The first content arrives while the server still holds the rest: nothing buffers."""
    seen = threading.Event()

    def event(content: str) -> bytes:
        data = {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    def script(n: int, line: bytes) -> list[Action]:
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        end = b"data: [DONE]\n\n"
        return [head + chunked([event("first")])[:-5],  # the first piece, not the last chunk
                lambda: chunked([event(" second" if seen.wait(10) else " TOO LATE"), end])]

    pieces: list[str | None] = []

    def on_delta(piece: str | None) -> None:
        pieces.append(piece)
        if piece == "first":
            seen.set()

    async def go(url: str) -> CallResult:
        async with client(url, stream=True) as c:
            return await c.complete(MESSAGES, on_delta)

    with RawServer(script) as server:
        result = run(go(server.base_url))
    assert result.text == "first second" and pieces == [None, "first", " second"]


# ---------------------------------------------------------------- real servers

@pytest.mark.parametrize("stream", [False, True])
def test_the_fake_openai_server_answers_and_errors_through_the_lean_pool(stream: bool) -> None:
    def refuse(status: int) -> Callable[[Request], Reply]:
        return lambda req: Reply(status=status, raw_body=b'{"error": {"message": "no %d"}}'
                                 % status)

    with FakeOpenAIServer(lambda r: "fine", fail_first=1, retry_after=0.05) as server:
        [result] = run(calls(server.base_url, 1, stream=stream, retries=2))
        assert result.text == "fine" and result.attempts == 2 and server.count == 2
        assert (result.ttft_ms is not None) is stream
    with FakeOpenAIServer(lambda r: "fine", fail_first=9, fail_status=500) as server:
        with pytest.raises(JudgeCallError, match="gave up after 2 attempts.*HTTP 500"):
            run(calls(server.base_url, 1, stream=stream, retries=1))
    for status, says in ((401, "rejected the API key"), (404, "does not know this model")):
        with FakeOpenAIServer(refuse(status)) as server:
            with pytest.raises(JudgeCallError, match=f"{says}.*no {status}") as err:
                run(calls(server.base_url, 1, stream=stream, retries=3))
            assert err.value.fatal and err.value.status == status and server.count == 1


def test_a_429_retry_after_pauses_through_the_lean_pool() -> None:
    async def go(url: str) -> tuple[CallResult, float]:
        async with client(url, retries=2) as c:
            assert c.transport == "lean"
            result = await c.complete(MESSAGES)
            return result, c._paused_until

    with FakeOpenAIServer(lambda r: "fine", fail_first=1, retry_after=0.2) as server:
        result, paused = run(go(server.base_url))
    assert result.attempts == 2 and paused > 0  # the Retry-After header reached the client


def test_uvicorn_h11_serves_through_the_lean_pool_across_its_keep_alive_timeout() -> None:
    uvicorn = pytest.importorskip("uvicorn")
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        stream = json.loads(body).get("stream", False)
        if not stream:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": completion("from uvicorn")})
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        for piece in ("from", " uvicorn"):
            data = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            await send({"type": "http.response.body", "more_body": True,
                        "body": b"data: " + json.dumps(data).encode() + b"\n\n"})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})

    config = uvicorn.Config(app, host="127.0.0.1", port=0, http="h11", log_level="error",
                            timeout_keep_alive=1, lifespan="off")
    server = uvicorn.Server(config)
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}/v1"
        for stream in (False, True):
            # the pause outlasts uvicorn's keep-alive timeout: it closes the idle connection
            results = run(calls(url, 3, pause_s=1.3 if not stream else 0.0, stream=stream))
            assert [r.text for r in results] == ["from uvicorn"] * 3
            assert all(r.attempts == 1 for r in results)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_https_with_the_shared_context_and_the_server_name(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           ) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key),
         "-out", str(cert)], capture_output=True, check=False)
    if made.returncode:
        pytest.skip(f"openssl cannot make a certificate: {made.stderr[-200:]!r}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted as httpx trusts it
    with RawServer(lambda n, line: [answer(completion("over tls"))], context) as server:
        url = f"https://localhost:{server.port}/v1"
        results = run(calls(url, 2))
        assert [r.text for r in results] == ["over tls"] * 2
        assert server.connections == 1 and names == ["localhost"]
        monkeypatch.delenv("SSL_CERT_FILE")  # not trusted any more: the handshake fails
        with pytest.raises(JudgeCallError, match="(?i)certificate"):
            run(calls(url, 1))


# ---------------------------------------------------------------- the fallback

def test_a_proxy_from_the_environment_sends_through_openais_transport(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The raw server plays the proxy: a request sent through a proxy names the whole URL."""
    endpoint = "http://endpoint.invalid:8000/v1"
    with RawServer(lambda n, line: [answer(completion("via proxy"))]) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")

        async def go() -> CallResult:
            async with client(endpoint) as c:
                assert c.transport == "httpx" and "proxy" in str(c.fallback_reason)
                return await c.complete(MESSAGES)

        assert run(go()).text == "via proxy"
        (_, head, _), = proxy.requests
        assert head.split(b"\r\n")[0] == b"POST " + endpoint.encode() + \
            b"/chat/completions HTTP/1.1"
        monkeypatch.setenv("NO_PROXY", "endpoint.invalid")  # bypassed: the lean pool sends
        assert client(endpoint).transport == "lean"


def test_which_setups_the_lean_pool_refuses() -> None:
    assert http11.lean_refusal("http://127.0.0.1:8000/v1") is None
    assert http11.lean_refusal("https://api.openai.com/v1") is None
    assert "scheme" in str(http11.lean_refusal("ftp://example.com/v1"))
    assert "credentials" in str(http11.lean_refusal("https://u:p@example.com/v1"))
    assert "auth" in str(http11.lean_refusal("https://example.com/v1", custom_auth=object()))
