"""A lean HTTP/1.1 keep-alive connection pool on asyncio, for the chat-completions POST of
judges/client.py: httpx2/httpcore2/h11 cost ~1.5 ms of CPU per call, this ~0.3 ms
(benchmarks/bench_judge.py), and a judge or generation run makes thousands of calls.

Which path a call takes (client.py decides once per client, `lean_refusal`):
- this pool: `http://` and `https://` base URLs without credentials in the URL, with no
  proxy environment variable (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and their lower-case forms,
  minus NO_PROXY, as urllib.request reads them) applying to the endpoint, and an openai client
  without custom auth;
- openai's own httpx transport otherwise (proxies, other schemes, custom auth), and always for
  the Batch API's calls.

What it speaks (RFC 9112): one request at a time per connection, `Host` from the request
template, `Content-Length` on the request, `Accept-Encoding: identity` asked for (a gzip or
deflate answer is still decoded; any other content coding is an error); answers framed by
Content-Length, by chunked transfer coding (extensions and trailers skipped), or by the
connection closing; 1xx interim answers skipped. A connection is reused only when the answer
was read to its end and neither `Connection: close` nor HTTP/1.0 without keep-alive nor a
close-delimited body said otherwise. An idle connection the server closed (EOF or any byte
while idle) is dropped before reuse, so a keep-alive timeout does not fail a call. A request
is never sent twice: once it is written, a failure is the caller's to retry (a POST the
server may have read is not resent blindly). TLS uses one SSL context for the whole pool,
with server_hostname set. Redirects are not followed: a 3xx is an error status.

Failures raise `HTTPError` subclasses with the OS error chained (refused, unknown host,
reset), so the caller can say why.
"""

from __future__ import annotations

import asyncio
import re
import select
import ssl
import urllib.parse
import urllib.request
import zlib
from collections.abc import AsyncIterator
from typing import Any

MAX_HEAD_BYTES = 64 * 1024  # status line and fields of one answer, as h11 allows
MAX_LINE_BYTES = 64 * 1024  # one chunk-size line or trailer field
_STATUS_LINE = re.compile(rb"HTTP/1\.(\d) (\d{3})(?: [^\r\n]*)?")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


class HTTPError(Exception):
    """A transport or protocol failure: no usable answer came (the cause is chained)."""


class ConnectError(HTTPError):
    """The connection could not be opened (refused, unknown host, TLS handshake)."""


class ReadError(HTTPError):
    """The connection broke off before the answer was complete."""


class RemoteProtocolError(HTTPError):
    """The server's answer does not follow HTTP/1.1."""


class DecodingError(HTTPError):
    """The answer's content coding cannot be decoded."""


def lean_refusal(url: str, *, custom_auth: object = None) -> str | None:
    """Why the lean pool cannot honour this endpoint (then openai's httpx transport sends),
    or None when it can."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return f"the scheme {scheme!r} is not http or https"
    if custom_auth is not None:
        return "the openai client has custom auth"
    if parts.username is not None or parts.password is not None:
        return "the URL carries credentials"
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass(parts.netloc.rpartition("@")[2]):
        return "a proxy applies to the endpoint (proxy environment variables)"
    return None


def request_head(method: str, target: bytes, headers: list[tuple[bytes, bytes]],
                 host: bytes) -> bytes:
    """The request line and fields, built once; each call appends Content-Length and body.

    The template's own framing and coding fields are replaced: we frame by Content-Length
    and ask for no content coding."""
    lines = [b"%s %s HTTP/1.1" % (method.encode("ascii"), target)]
    names = set()
    for name, value in headers:
        low = name.lower()
        if low in (b"content-length", b"transfer-encoding", b"accept-encoding",
                   b"connection", b"keep-alive"):
            continue
        names.add(low)
        lines.append(name + b": " + value)
    if b"host" not in names:
        lines.insert(1, b"Host: " + host)
    lines.append(b"Accept-Encoding: identity")
    return b"\r\n".join(lines) + b"\r\n"


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: bytes received wait in `buffer` until the answer's
    reader takes them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._poll: Any = None
        self.reused = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(sock.fileno(), select.POLLIN)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None and self.error is None:
            self.error = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # reading
    async def more(self, what: str) -> None:
        """Wait for more bytes; a connection that ended meanwhile raises ReadError."""
        if self.eof:
            raise ReadError(f"the server closed the connection {what}") from self.error
        await self.news()

    async def news(self) -> None:
        """Wait until bytes arrive or the connection ends."""
        waiter = self._waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    async def take(self, most: int) -> bytes:
        """Up to ``most`` bytes of the body, at least one."""
        while not self.buffer:
            await self.more("mid-answer")
        piece = bytes(self.buffer[:most])
        del self.buffer[:len(piece)]
        return piece

    async def line(self) -> bytes:
        """One line without its CRLF (a bare LF is accepted too, RFC 9112 2.2)."""
        while (end := self.buffer.find(b"\n")) < 0:
            if len(self.buffer) > MAX_LINE_BYTES:
                raise RemoteProtocolError("a line of the chunked answer is too long")
            await self.more("mid-answer")
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 1]
        return line[:-1] if line.endswith(b"\r") else line

    def idle_and_open(self) -> bool:
        """Reusable: open, nothing unread, and the socket has nothing waiting (a FIN or a
        408 sent while idle would be readable: the server is done with it)."""
        transport = self.transport
        if self.eof or self.buffer or transport is None or transport.is_closing():
            return False
        try:
            return not (self._poll is not None and self._poll.poll(0))
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.eof = True


class Response:
    """An answer with the small interface client.py reads: status_code, headers, content
    (after `aread`), `aiter_bytes()` and `aclose()`. The connection goes back to the pool
    only once the body was read to its end."""

    def __init__(self, pool: ConnectionPool, conn: _Connection, status: int, version: int,
                 headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status
        self.http_version = f"HTTP/1.{version}"
        self.raw_headers = headers
        self.content = b""
        self._pool, self._conn = pool, conn
        self._open = True  # holds the connection and a pool slot
        fields: dict[bytes, list[bytes]] = {}
        for name, value in headers:
            fields.setdefault(name.lower(), []).append(value)
        tokens = _tokens(fields.get(b"connection"))
        keep = b"close" not in tokens if version >= 1 else b"keep-alive" in tokens
        self._length: int | None = None
        self._chunked = False
        codings = _tokens(fields.get(b"transfer-encoding"))
        if status in (204, 304):
            self._length = 0
        elif codings:
            if codings[-1] == b"chunked" and version >= 1:
                self._chunked = True
                keep = keep and b"content-length" not in fields  # RFC 9112 6.3 (3)
            else:
                keep = False  # read until the server closes
        elif b"content-length" in fields:
            self._length = _content_length(fields[b"content-length"])
        else:
            keep = False
        self._keep = keep
        # Undone in reverse order of application: transfer codings under chunked (rare),
        # then content codings.
        applied = (codings[:-1] if self._chunked else []) + _tokens(
            fields.get(b"content-encoding"))
        self._decoders = [_decoder(c) for c in reversed(applied) if c != b"identity"]

    @property
    def headers(self) -> dict[str, str]:
        """The fields, lower-case names (repeated fields joined by commas)."""
        out: dict[str, str] = {}
        for name, value in self.raw_headers:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            out[key] = f"{out[key]}, {text}" if key in out else text
        return out

    async def aread(self) -> bytes:
        if not self._open:  # read already (or closed): what was read
            return self.content
        length, conn = self._length, self._conn
        if length is not None and not self._decoders:
            buffer = conn.buffer  # the common answer: read in one piece
            while len(buffer) < length:
                await conn.more("mid-answer")
            if len(buffer) == length:
                self.content = bytes(buffer)
                buffer.clear()
            else:  # pipelined bytes cannot be: the server sent more than it said
                self.content = bytes(buffer[:length])
                del buffer[:length]
            self._finish(reusable=self._keep)
            return self.content
        self.content = b"".join([piece async for piece in self.aiter_bytes()])
        return self.content

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives, decoded; the connection is released at its end."""
        if not self._open:
            return
        try:
            async for piece in self._raw():
                for decoder in self._decoders:
                    piece = _decode(decoder, piece)
                if piece:
                    yield piece
            tail = b""
            for decoder in self._decoders:
                tail = _decode(decoder, tail) + _decode(decoder, None)
            if tail:
                yield tail
        except BaseException:
            self._finish(reusable=False)
            raise
        self._finish(reusable=self._keep)

    async def _raw(self) -> AsyncIterator[bytes]:
        conn = self._conn
        buffer = conn.buffer
        if self._chunked:
            while True:
                line = await conn.line()
                size_text = line.split(b";", 1)[0].strip(b" \t")  # extensions ignored
                if not _HEX.fullmatch(size_text):
                    raise RemoteProtocolError(f"bad chunk size line {line[:40]!r}")
                left = int(size_text, 16)
                if not left:
                    break
                while left:
                    piece = await conn.take(left)
                    left -= len(piece)
                    yield piece
                if await conn.line():
                    raise RemoteProtocolError("a chunk does not end with CRLF")
            for _ in range(1000):  # trailer fields, up to the empty line
                if not await conn.line():
                    return
            raise RemoteProtocolError("too many trailer fields")
        if self._length is not None:
            left = self._length
            while left:
                piece = await conn.take(left)
                left -= len(piece)
                yield piece
            return
        while True:  # delimited by the server closing the connection
            if buffer:
                piece = bytes(buffer)
                buffer.clear()
                yield piece
            elif conn.eof:
                if conn.error is not None:  # a reset is not the end of the body
                    raise ReadError("the connection broke off mid-answer") from conn.error
                return
            else:
                await conn.news()

    async def aclose(self) -> None:
        """Done with the answer: a body not read to its end closes the connection."""
        self._finish(reusable=False)

    def _finish(self, *, reusable: bool) -> None:
        if self._open:
            self._open = False
            self._pool._release(self._conn, reusable=reusable)


class ConnectionPool:
    """Up to `max_connections` keep-alive connections to one origin."""

    def __init__(self, url: str, *, max_connections: int,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urllib.parse.urlsplit(url)
        self.scheme = parts.scheme.lower()
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        if self.scheme == "https" and ssl_context is None:
            ssl_context = ssl.create_default_context()
        self.ssl_context = ssl_context if self.scheme == "https" else None
        self.max_connections = max_connections
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self.opened = 0  # connections opened so far (tests, benchmarks)

    async def request(self, head: bytes, body: bytes, *, stream: bool) -> Response:
        """Send one request (`head` from request_head) and read the answer's head; unless
        streamed, its body too. The caller must read a streamed body to its end or aclose."""
        await self._slots.acquire()
        conn: _Connection | None = None
        try:
            conn = self._checkout() or await self._connect()
            assert conn.transport is not None
            conn.transport.write(b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body))
            response = await self._read_head(conn)
        except BaseException:
            if conn is None:
                self._slots.release()
            else:
                self._release(conn, reusable=False)
            raise
        if not stream:
            await response.aread()
        return response

    def _checkout(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()  # the most recently used: likeliest still open
            if conn.idle_and_open():
                conn.reused = True
                return conn
            self._discard(conn)
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                lambda: _Connection(loop), self.host, self.port, ssl=self.ssl_context,
                server_hostname=self.host if self.ssl_context is not None else None)
        except OSError as exc:  # refused, unknown host, TLS: the cause says which
            raise ConnectError(f"cannot connect to {self.host}:{self.port}") from exc
        self.opened += 1
        self._all.add(conn)
        return conn

    async def _read_head(self, conn: _Connection) -> Response:
        buffer = conn.buffer
        while True:  # 1xx interim answers are skipped
            start = 0
            while True:
                end = _head_end(buffer, start)
                if end >= 0:
                    break
                if len(buffer) > MAX_HEAD_BYTES:
                    raise RemoteProtocolError("the answer's header is too long")
                start = max(0, len(buffer) - 3)
                await conn.more("without answering" if not buffer else "mid-answer")
            head = bytes(buffer[:end])
            del buffer[:end]
            lines = head.split(b"\n")
            status_line = lines[0].rstrip(b"\r")
            match = _STATUS_LINE.fullmatch(status_line)
            if match is None:
                raise RemoteProtocolError(f"malformed status line {status_line[:80]!r}")
            status = int(match.group(2))
            headers: list[tuple[bytes, bytes]] = []
            for raw in lines[1:]:
                line = raw.rstrip(b"\r")
                if not line:
                    continue
                if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding
                    name, value = headers[-1]
                    headers[-1] = (name, value + b" " + line.strip(b" \t"))
                    continue
                name, colon, value = line.partition(b":")
                if not colon or not name or name != name.strip(b" \t"):
                    raise RemoteProtocolError(f"malformed header field {line[:80]!r}")
                headers.append((name, value.strip(b" \t")))
            if status >= 200:
                return Response(self, conn, status, int(match.group(1)), headers)
            if status == 101:
                raise RemoteProtocolError("the server switched protocols unasked")

    def _release(self, conn: _Connection, *, reusable: bool) -> None:
        if reusable and not conn.eof and not conn.buffer:
            self._idle.append(conn)
        else:
            self._discard(conn)
        self._slots.release()

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._all.discard(conn)

    async def aclose(self) -> None:
        for conn in list(self._all):
            conn.close()
        self._all.clear()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports finish closing


def _head_end(buffer: bytearray, start: int) -> int:
    """The index just past the empty line ending the header block, or -1."""
    crlf = buffer.find(b"\n\r\n", start)
    lf = buffer.find(b"\n\n", start)
    if crlf < 0:
        return -1 if lf < 0 else lf + 2
    return crlf + 3 if lf < 0 or crlf < lf else lf + 2


def _tokens(values: list[bytes] | None) -> list[bytes]:
    if not values:
        return []
    return [t.strip(b" \t").lower() for v in values for t in v.split(b",") if t.strip(b" \t")]


def _content_length(values: list[bytes]) -> int:
    found = {v.strip(b" \t") for value in values for v in value.split(b",")}
    if len(found) != 1 or not next(iter(found)).isdigit():
        raise RemoteProtocolError(f"invalid Content-Length {b', '.join(values)[:40]!r}")
    return int(next(iter(found)))


class _Deflate:
    """`deflate` as servers send it: zlib-wrapped (RFC 9110) or, wrongly but often, raw."""

    def __init__(self) -> None:
        self._inner: Any = None

    def decompress(self, data: bytes) -> bytes:
        if self._inner is None:
            if not data:
                return b""
            wrapped = len(data) > 1 and (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return bytes(self._inner.decompress(data))

    def flush(self) -> bytes:
        return b"" if self._inner is None else bytes(self._inner.flush())

    @property
    def eof(self) -> bool:
        return self._inner is None or bool(self._inner.eof)


def _decoder(coding: bytes) -> Any:
    if coding in (b"gzip", b"x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == b"deflate":
        return _Deflate()
    raise DecodingError(f"the server answered with Content-Encoding {coding.decode('latin-1')!r}"
                        ", which judge_app does not decode (it asks for identity)")


def _decode(decoder: Any, data: bytes | None) -> bytes:
    """Decompressed bytes of `data`; None: the end of the body (a cut stream is an error)."""
    try:
        if data is not None:
            return bytes(decoder.decompress(data))
        out = bytes(decoder.flush())
    except zlib.error as exc:
        raise DecodingError(f"the answer's compressed body is corrupt: {exc}") from exc
    if not getattr(decoder, "eof", True):
        raise DecodingError("the answer's compressed body is cut short")
    return out
