"""Async client for any OpenAI-compatible chat-completions endpoint, built for batches: the
one client of both judge runs and generation runs (services/judge_runs.py,
services/generation.py).

Around openai's AsyncOpenAI with its own retries switched off (max_retries=0): we retry 429,
5xx, timeouts and connection errors ourselves, so every attempt is counted, Retry-After is
honoured by all workers at once, and the runner's budget sees each call. A concurrency
semaphore and token buckets for requests and tokens per minute keep within the provider's
limits.

Speed: openai builds each request's URL, headers and timeout once per pool (a template,
`_Template`); each call only encodes its body and posts it through our own lean HTTP/1.1
pool (judges/http11.py: httpx2/httpcore2/h11 cost ~1.5 ms of CPU a call, it ~0.3 ms), with
openai's own status errors built from the answer. Where that pool cannot honour the setup
(a proxy from the environment, custom auth, credentials in the URL, another scheme: see
`http11.lean_refusal`) the call goes through openai's lower-level send instead (auth
included), with openai's mapping of transport and status errors, its connections spread over
several small client pools because httpcore scans every pooled connection for each request.
The answer is read as plain JSON (no pydantic models). Measured in benchmarks/bench_judge.py
and bench_generation.py.

Streaming (`stream=True`, for generation) reads the server-sent chunks as plain JSON too,
asks for usage in the last chunk (`stream_options.include_usage`) and times the first
content token (time to first token) besides the whole answer.
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib
import json
import math
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import openai
from openai._models import FinalRequestOptions

from judge_app.core.redact import redact, redact_url, url_secrets
from judge_app.errors import JudgeAppError
from judge_app.judges import http11
from judge_app.judges.config import JudgeConfig
from judge_app.judges.cost import estimate_prompt_tokens, estimate_tokens
from judge_app.judges.model_config import ModelConfig

try:  # the transport: openai 3.x sends through httpx2
    _HTTP = importlib.import_module("httpx2")
except ImportError:  # openai 1.x and 2.x send through httpx
    _HTTP = importlib.import_module("httpx")
_HTTP_ERROR: type[Exception] = _HTTP.HTTPError  # for a stream that breaks off
try:  # what openai's own request() turns into APITimeoutError / APIConnectionError
    _openai_httpx2 = importlib.import_module("openai._httpx2")
    _TIMEOUT_ERRORS: tuple[type[BaseException], ...] = _openai_httpx2.timeout_exceptions()
    _REQUEST_ERRORS: tuple[type[BaseException], ...] = _openai_httpx2.request_exceptions()
except (ImportError, AttributeError):  # openai 1.x and 2.x: httpx's timeout, then anything
    _TIMEOUT_ERRORS = (importlib.import_module("httpx").TimeoutException,)
    _REQUEST_ERRORS = (Exception,)

CONNECTIONS_PER_POOL = 4
MAX_RETRY_AFTER_S = 600.0
# Statuses no retry can fix, and that every other call would get too: stop the run.
FATAL_STATUSES = (401, 403, 404)
# Attempts at an endpoint that has never answered, when the connection itself fails
# (refused, unknown host): enough to ride out a server still starting, not minutes.
UNREACHABLE_ATTEMPTS = 3

Sleep = Callable[[float], Awaitable[None]]
RetryNotice = Callable[[str, str], None]  # (kind, message), for "retrying because ..."


class JudgeCallError(JudgeAppError):
    """A call that failed for good: not retryable, or out of retries.

    `fatal` marks errors every other call would hit too (a rejected key, an unknown model,
    an endpoint that cannot be reached): the run stops instead of trying the rest. The
    message is already redacted and names the endpoint."""

    def __init__(self, message: str, *, attempts: int, status: int | None = None,
                 fatal: bool = False) -> None:
        super().__init__(message)
        self.attempts, self.status, self.fatal = attempts, status, fatal


@dataclass(frozen=True)
class CallResult:
    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: float | None  # of the attempt that answered; None: a Batch API answer
    attempts: int
    logprobs: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    usage_estimated: bool = False  # the endpoint reported no usage; counted from characters
    ttft_ms: float | None = None  # streamed: time to the first content token of that attempt
    response_model: str | None = None  # the model id the endpoint says answered
    system_fingerprint: str | None = None  # the backend configuration, when the endpoint says


@dataclass
class ClientStats:
    attempts: int = 0
    retries: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # kind -> count

    @property
    def rate_limited(self) -> int:
        return self.errors.get("rate_limited", 0)

    @property
    def server_errors(self) -> int:
        return self.errors.get("server_error", 0)

    @property
    def timeouts(self) -> int:
        return self.errors.get("timeout", 0)


class TokenBucket:
    """`per_minute` units refilled continuously; a request larger than the bucket waits for
    a full bucket and then drives it negative, so it neither deadlocks nor jumps the queue."""

    def __init__(self, per_minute: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.level = self.capacity
        self._clock, self._sleep = clock, sleep
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, amount: float) -> None:
        async with self._lock:  # waiters are served in arrival order
            need = min(amount, self.capacity)
            self._refill()
            while self.level < need:
                await self._sleep((need - self.level) / self.rate)
                self._refill()
            self.level -= amount

    def adjust(self, amount: float) -> None:
        """Charge (or refund) the difference once the real token count is known."""
        self._refill()
        self.level = min(self.capacity, self.level - amount)


def retry_after_seconds(headers: Mapping[str, str] | None, *, now: float | None = None,
                        ) -> float | None:
    """Seconds to wait from retry-after-ms, or Retry-After in seconds or as an HTTP date."""
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class ChatClient:
    """Sends chat completions with limits and retries; one instance per judge or generation
    run."""

    def __init__(
        self, *, model: str, base_url: str, api_key: str, temperature: float = 0.0,
        max_tokens: int = 1024, logprobs: bool = False, top_logprobs: int = 5,
        concurrency: int = 8, rpm: int | None = None, tpm: int | None = None,
        timeout_s: float = 120.0, retries: int = 6, backoff_base_s: float = 0.5,
        backoff_max_s: float = 60.0, sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic, seed: int | None = None,
        on_retry: RetryNotice | None = None, stream: bool = False,
        request_seed: int | None = None,
    ) -> None:
        self.model, self.base_url = model, base_url
        # Never print or store base_url itself: it may carry credentials.
        self.shown_url = redact_url(base_url)
        self._secrets = [api_key, *url_secrets(base_url)]
        self.on_retry = on_retry
        self.answered = 0  # calls the endpoint answered: once > 0 it was reachable
        self.temperature, self.max_tokens = temperature, max_tokens
        self.logprobs, self.top_logprobs = logprobs, top_logprobs
        self.stream, self.request_seed = stream, request_seed  # seed: sent to the endpoint
        self.timeout_s, self.retries = timeout_s, retries
        self.concurrency = concurrency
        self.backoff_base_s, self.backoff_max_s = backoff_base_s, backoff_max_s
        self.stats = ClientStats()
        self._sleep, self._clock = sleep, clock
        self._rng = random.Random(seed)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._rpm = TokenBucket(rpm, clock=clock, sleep=sleep) if rpm else None
        self._tpm = TokenBucket(tpm, clock=clock, sleep=sleep) if tpm else None
        self._paused_until = 0.0
        pools = max(1, math.ceil(concurrency / CONNECTIONS_PER_POOL))
        context = _ssl_context() if pools > 1 or base_url.lower().startswith("https:") \
            else None
        self._pools = [
            openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0,
                               timeout=timeout_s, **http)
            for http in _http_clients(pools, timeout_s, context)
        ]
        # Why the lean HTTP/1.1 pool cannot send this client's calls (None: it does).
        self.fallback_reason = http11.lean_refusal(str(self._pools[0].base_url),
                                                   custom_auth=self._pools[0].custom_auth)
        self._lean = None if self.fallback_reason is not None else http11.ConnectionPool(
            str(self._pools[0].base_url), max_connections=concurrency,
            ssl_context=context if isinstance(context, ssl.SSLContext) else None)
        self._next_pool = 0
        self._templates: list[_Template | None] = [None] * pools

    @classmethod
    def from_config(cls, config: JudgeConfig, *, environ: Mapping[str, str] | None = None,
                    concurrency: int | None = None, **overrides: Any) -> ChatClient:
        return cls(
            model=config.model, base_url=config.endpoint(environ),
            api_key=config.api_key(environ), temperature=config.temperature,
            max_tokens=config.max_tokens, logprobs=config.logprobs,
            top_logprobs=config.top_logprobs, concurrency=concurrency or config.concurrency,
            rpm=config.rpm, tpm=config.tpm, timeout_s=config.timeout_s,
            retries=config.retries, **overrides,
        )

    @classmethod
    def for_model(cls, config: ModelConfig, *, environ: Mapping[str, str] | None = None,
                  concurrency: int | None = None, **overrides: Any) -> ChatClient:
        """A client for an answering model (generation): streamed, with its request seed."""
        return cls(
            model=config.model, base_url=config.endpoint(environ),
            api_key=config.api_key(environ), temperature=config.temperature,
            max_tokens=config.max_tokens, concurrency=concurrency or config.concurrency,
            rpm=config.rpm, tpm=config.tpm, timeout_s=config.timeout_s,
            retries=config.retries, stream=config.stream, request_seed=config.seed,
            **overrides,
        )

    @property
    def transport(self) -> str:
        """Which path the chat calls take: "lean" (judges/http11.py) or "httpx" (openai's)."""
        return "lean" if self._lean is not None else "httpx"

    async def aclose(self) -> None:
        if self._lean is not None:
            await self._lean.aclose()
        for pool in self._pools:
            await pool.close()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages,
                                "temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = self.top_logprobs
        if self.request_seed is not None:
            body["seed"] = self.request_seed
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def batch_body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        """The request body of one line of a Batch API input file: as sent online, never
        streamed (a batch answers as a whole)."""
        body = self.body(messages)
        body.pop("stream", None)
        body.pop("stream_options", None)
        return body

    @property
    def api(self) -> openai.AsyncOpenAI:
        """The openai client of the first pool (the Batch API's few calls: judges/batch_api.py)."""
        return self._pools[0]

    async def complete(self, messages: list[dict[str, str]],
                       on_delta: Callable[[str | None], None] | None = None) -> CallResult:
        """One judge answer; raises JudgeCallError when it cannot get one.

        ``on_delta`` (streamed calls, the live arena) gets each piece of content as it
        arrives, and None when an attempt starts again (drop what came before)."""
        body = self.body(messages)
        est_input = estimate_prompt_tokens(messages)
        attempt = 0
        while True:
            attempt += 1
            await self._wait_for_pause()
            if self._rpm:
                await self._rpm.take(1)
            if self._tpm:
                await self._tpm.take(est_input + min(self.max_tokens, 256))
            try:
                data, latency_ms, ttft_ms = await self._send(body, on_delta)
                result = _read_completion(data, messages, latency_ms, attempt, ttft_ms)
            except _Retryable as exc:
                self.stats.errors[exc.kind] = self.stats.errors.get(exc.kind, 0) + 1
                reason = self.redact(str(exc))
                if exc.kind == "connection" and not self.answered:
                    # Never reached yet: refused or unknown host fails fast, not in minutes.
                    if attempt >= min(UNREACHABLE_ATTEMPTS, self.retries + 1):
                        raise JudgeCallError(
                            f"cannot reach the endpoint {self.shown_url}: {reason}",
                            attempts=attempt, fatal=True) from None
                elif attempt > self.retries:
                    raise JudgeCallError(
                        f"gave up after {attempt} attempts at {self.shown_url}: {reason}",
                        attempts=attempt, status=exc.status) from None
                self.stats.retries += 1
                delay = self._delay(attempt, exc.retry_after)
                if self.on_retry is not None:
                    self.on_retry(exc.kind, f"retrying after {reason} (attempt {attempt}, "
                                  f"next in {delay:.1f} s)")
                await self._sleep(delay)
                continue
            except JudgeCallError as exc:
                exc.attempts = attempt
                raise
            self.answered += 1
            if self._tpm:
                used = result.input_tokens + result.output_tokens
                self._tpm.adjust(used - est_input - min(self.max_tokens, 256))
            return result

    async def _send(self, body: dict[str, Any],
                    on_delta: Callable[[str | None], None] | None = None,
                    ) -> tuple[Any, float, float | None]:
        index = self._next_pool
        self._next_pool = (index + 1) % len(self._pools)
        template = self._templates[index] or await self._template(index)
        async with self._semaphore:
            stats = self.stats
            stats.attempts += 1
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            start = self._clock()
            ttft_ms: float | None = None
            data: Any
            try:
                async with asyncio.timeout(self.timeout_s):
                    if body.get("stream"):
                        data, first = await self._receive_stream(template, body, on_delta)
                        ttft_ms = None if first is None else (first - start) * 1000
                    else:
                        response = await template.send(body, stream=False)
                        try:
                            data = json.loads(response.content)
                        except ValueError:
                            raise _Retryable("malformed", "the endpoint's answer is not "
                                             "JSON") from None
            except TimeoutError:
                raise _Retryable("timeout", f"no answer within {self.timeout_s:g}s") from None
            except openai.APITimeoutError:
                raise _Retryable("timeout", "request timed out") from None
            except openai.APIConnectionError as exc:
                raise _Retryable("connection", _connection_reason(exc)) from None
            except openai.APIStatusError as exc:
                raise self._status_error(exc) from None
            finally:
                stats.in_flight -= 1
            return data, (self._clock() - start) * 1000, ttft_ms

    async def _template(self, index: int) -> _Template:
        """The pool's chat-completions request as openai builds it (URL, auth and default
        headers, timeout), built once: each call only adds its body."""
        pool = self._pools[index]
        options = await pool._prepare_options(FinalRequestOptions.construct(
            method="post", url="/chat/completions", json_data={}))
        request = pool._build_request(options)
        await pool._prepare_request(request)
        template = _Template(pool, request, self._lean)
        self._templates[index] = template
        return template

    async def _receive_stream(self, template: _Template, body: dict[str, Any],
                              on_delta: Callable[[str | None], None] | None = None,
                              ) -> tuple[dict[str, Any], float | None]:
        """The streamed chunks gathered into one chat.completion object, and the clock
        reading at the first content token (None if no content came).

        The server-sent events are split and decoded here (bytes, one json.loads a chunk):
        openai's own stream decoder costs several times more CPU per chunk, and an answer
        streamed a token at a time has hundreds of chunks."""
        response = await template.send(body, stream=True)
        parts: list[str] = []
        first: float | None = None
        finish: str | None = None
        out: dict[str, Any] = {}
        buffer = b""
        done = False
        if on_delta is not None:
            on_delta(None)
        try:
            async for data in response.aiter_bytes():
                buffer += data
                if b"\r" in buffer:  # CRLF line ends: the same events
                    buffer = buffer.replace(b"\r\n", b"\n")
                while not done and (end := buffer.find(b"\n\n")) >= 0:
                    event, buffer = buffer[:end], buffer[end + 2:]
                    for line in event.split(b"\n"):
                        if not line.startswith(b"data:"):
                            continue
                        payload = line[5:].strip()
                        if payload == b"[DONE]":
                            done = True
                            break
                        chunk = _json_chunk(payload)
                        for key in ("model", "system_fingerprint", "usage"):
                            if chunk.get(key):
                                out[key] = chunk[key]
                        for choice in chunk.get("choices") or ():
                            piece = (choice.get("delta") or {}).get("content")
                            if piece:
                                if first is None:
                                    first = self._clock()
                                parts.append(piece)
                                if on_delta is not None:
                                    on_delta(piece)
                            finish = choice.get("finish_reason") or finish
        except (_HTTP_ERROR, http11.HTTPError) as exc:
            raise _Retryable("connection", f"stream broke off: {exc}") from None
        finally:
            await response.aclose()
        if not out and not parts and finish is None:
            raise _Retryable("malformed", "the endpoint's stream held no chat completion chunk")
        out["choices"] = [{"message": {"content": "".join(parts)}, "finish_reason": finish}]
        return out, first

    def _status_error(self, exc: openai.APIStatusError) -> Exception:
        status = exc.status_code
        if status == 429:
            wait = retry_after_seconds(exc.response.headers)
            if wait is not None:  # everyone waits, not just this call
                wait = min(wait, MAX_RETRY_AFTER_S)
                self._paused_until = max(self._paused_until, self._clock() + wait)
            return _Retryable("rate_limited", f"HTTP 429: {exc.message}", status, wait)
        if status >= 500 or status in (408, 409):
            wait = retry_after_seconds(exc.response.headers)
            return _Retryable("server_error", f"HTTP {status}: {exc.message}", status, wait)
        text = self.redact(f"HTTP {status}: {exc.message}")
        if status in FATAL_STATUSES:
            what = {401: "rejected the API key", 403: "refused access",
                    404: "does not know this model or path"}[status]
            return JudgeCallError(f"the endpoint {self.shown_url} {what} (model "
                                  f"{self.model!r}): {text}", attempts=1, status=status,
                                  fatal=True)
        return JudgeCallError(f"{self.shown_url}: {text}", attempts=1, status=status)

    def redact(self, text: str) -> str:
        """Error text with this client's key and URL credentials masked."""
        return redact(text, self._secrets)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, never shorter than the server's Retry-After."""
        backoff = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        backoff *= 0.5 + 0.5 * self._rng.random()
        return max(backoff, retry_after or 0.0)

    async def _wait_for_pause(self) -> None:
        while (wait := self._paused_until - self._clock()) > 0:
            await self._sleep(wait)


def _ssl_context() -> ssl.SSLContext | None:
    """One TLS context for all of a client's connections, made as httpx makes it (so
    SSL_CERT_FILE and SSL_CERT_DIR behave as before): each would otherwise load the CA
    bundle again, ~18 ms of CPU apiece."""
    create = getattr(_HTTP, "create_ssl_context", None)
    return None if create is None else create()


def _http_clients(pools: int, timeout_s: float, context: ssl.SSLContext | None,
                  ) -> list[dict[str, Any]]:
    """Each pool's http_client argument: openai's default client, all sharing one TLS
    context (16 pools at concurrency 64). Without the means to share it, openai builds its
    own."""
    factory = getattr(openai, "DefaultAsyncHttpxClient", None)
    if pools < 2 or context is None or factory is None:
        return [{} for _ in range(pools)]
    return [{"http_client": factory(verify=context, timeout=timeout_s)} for _ in range(pools)]


def _connection_reason(exc: openai.APIConnectionError) -> str:
    """openai says only "Connection error."; the innermost cause says refused, unknown host
    or reset."""
    detail = ""
    cause: BaseException | None = exc.__cause__ or exc.__context__
    for _ in range(10):  # the chain is short; never loop on a cycle
        if cause is None:
            break
        if str(cause):
            detail = str(cause)
        cause = cause.__cause__ or cause.__context__
    return f"{exc}" + (f" ({detail})" if detail and detail not in str(exc) else "")


class _Template:
    """One pool's chat-completions request, built by openai once; `send` posts a body with
    it the way openai's `request()` does with retries off: a timeout raises APITimeoutError,
    a transport error APIConnectionError, a non-2xx answer openai's APIStatusError (its
    body read first). With a lean pool the request goes through it (judges/http11.py);
    openai's error objects are then built only when an error needs them."""

    def __init__(self, pool: openai.AsyncOpenAI, request: Any,
                 lean: http11.ConnectionPool | None = None) -> None:
        self.pool = pool
        self.lean = lean
        self.head = b"" if lean is None else http11.request_head(
            "POST", bytes(request.url.raw_path), list(request.headers.raw),
            bytes(request.url.netloc))
        self.request_cls = type(request)  # httpx2.Request (openai 3.x) or httpx.Request
        self.url = request.url
        self.headers = type(request.headers)(  # a Headers object: copied, not re-parsed
            [(k, v) for k, v in request.headers.raw if k.lower() != b"content-length"])
        self.extensions = dict(request.extensions)  # openai's timeout
        auth = pool.custom_auth
        self.send_kwargs: dict[str, Any] = {} if auth is None else {"auth": auth}

    def _request(self, content: bytes) -> Any:
        return self.request_cls("POST", self.url, headers=self.headers, content=content,
                                extensions=dict(self.extensions))

    async def send(self, body: dict[str, Any], *, stream: bool) -> Any:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        if self.lean is not None:
            return await self._send_lean(content, stream=stream)
        request = self._request(content)
        try:
            response = await self.pool._send_request(request, stream=stream,
                                                     **self.send_kwargs)
        except _TIMEOUT_ERRORS as err:
            raise openai.APITimeoutError(request=request) from err
        except openai.OpenAIError:
            raise
        except _REQUEST_ERRORS as err:
            raise openai.APIConnectionError(request=request) from err
        if not response.is_success:
            if not response.is_closed:
                await response.aread()
            raise self.pool._make_status_error_from_response(response) from None
        return response

    async def _send_lean(self, content: bytes, *, stream: bool) -> http11.Response:
        assert self.lean is not None
        try:
            response = await self.lean.request(self.head, content, stream=stream)
            if 200 <= response.status_code < 300:
                return response
            await response.aread()
        except http11.HTTPError as err:
            raise openai.APIConnectionError(request=self._request(content)) from err
        # The body is decoded already: its coding and framing fields no longer apply.
        headers = [(k, v) for k, v in response.raw_headers if k.lower() not in (
            b"content-encoding", b"transfer-encoding", b"content-length")]
        answer = _HTTP.Response(response.status_code, headers=headers,
                                content=response.content, request=self._request(content))
        raise self.pool._make_status_error_from_response(answer) from None


def _json_chunk(payload: bytes) -> dict[str, Any]:
    """One event's JSON; an error event (a server that fails mid-stream) is retried."""
    try:
        chunk = json.loads(payload)
    except ValueError:
        raise _Retryable("malformed", "the endpoint's stream sent an event that is not JSON"
                         ) from None
    if not isinstance(chunk, dict):
        raise _Retryable("malformed", "the endpoint's stream sent an event that is not an "
                         "object")
    if chunk.get("error"):
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise _Retryable("server_error", f"stream broke off: {message}")
    return chunk


class _Retryable(Exception):
    def __init__(self, kind: str, message: str, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind, self.status, self.retry_after = kind, status, retry_after


def _read_completion(data: Any, messages: list[dict[str, str]], latency_ms: float | None,
                     attempts: int, ttft_ms: float | None = None, *,
                     input_estimate: int | None = None) -> CallResult:
    """The answer text, usage and logprobs from a chat.completion JSON object (latency None:
    a Batch API answer, which has no per-call latency)."""
    try:
        choice = data["choices"][0]
        message = choice.get("message") or {}
        text = message.get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        raise _Retryable("malformed", "the endpoint's answer is not a chat completion") from None
    usage = data.get("usage") or {}
    input_tokens, output_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
    estimated = not isinstance(input_tokens, int) or not isinstance(output_tokens, int)
    if not isinstance(input_tokens, int) or not isinstance(output_tokens, int):
        input_tokens = (estimate_prompt_tokens(messages) if input_estimate is None
                        else input_estimate)
        output_tokens = estimate_tokens(text)
    logprobs = (choice.get("logprobs") or {}).get("content") or None
    return CallResult(
        text=text, input_tokens=int(input_tokens), output_tokens=int(output_tokens),
        latency_ms=latency_ms, attempts=attempts, logprobs=logprobs,
        finish_reason=choice.get("finish_reason"), usage_estimated=estimated,
        ttft_ms=ttft_ms, response_model=_text_or_none(data.get("model")),
        system_fingerprint=_text_or_none(data.get("system_fingerprint")),
    )


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


JudgeClient = ChatClient  # the name judge code has always used
