"""OpenAI's Batch API through the run's own ChatClient (judges/client.py): the input file,
its upload, the batch, its status and its output and error files. No database here: the
runner that makes a batch resumable is services/batches.py.

Each call is retried as online calls are (429, 5xx, timeouts, connection errors), with the
client's backoff, and every error is redacted and names the endpoint.

Shapes (OpenAI's Batch API reference): an input line is
``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}``; an output or error
line is ``{"id", "custom_id", "response": {"status_code", "request_id", "body"} | null,
"error": {"code", "message"} | null}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import openai

from judge_app.judges.client import (
    FATAL_STATUSES,
    CallResult,
    ChatClient,
    JudgeCallError,
    _read_completion,
    _Retryable,
)

ENDPOINT: Final = "/v1/chat/completions"
COMPLETION_WINDOW: Final = "24h"
METADATA_KEY = "judge_app_batch"  # our batch key, so a batch created but never recorded is found
TERMINAL = ("completed", "failed", "expired", "cancelled")
LIST_PAGE = 100
LIST_LIMIT = 2000  # batches looked through for one lost id (newest first)

_T = TypeVar("_T")


def input_line(custom_id: str, body: dict[str, Any]) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body},
                      ensure_ascii=False, separators=(",", ":"))


def file_name(batch_key: str) -> str:
    """The uploaded file's name: a killed upload's file is found again by it."""
    return f"judge_app-batch-{batch_key}.jsonl"


@dataclass(frozen=True)
class LineResult:
    custom_id: str
    result: CallResult | None
    error: str | None  # why this line has no answer


def read_lines(text: str, input_estimates: dict[str, int]) -> list[LineResult]:
    """The lines of an output or error file. A line whose status is not 200, or that carries
    an error, or whose body is no chat completion, is an error with its reason."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            custom_id = str(line["custom_id"])
        except (ValueError, KeyError, TypeError):
            out.append(LineResult(f"?line {number}", None,
                                  f"line {number} of the result file is not a batch result"))
            continue
        out.append(_read_line(custom_id, line, input_estimates.get(custom_id, 0)))
    return out


def _read_line(custom_id: str, line: dict[str, Any], estimate: int) -> LineResult:
    error = line.get("error")
    response = line.get("response") or {}
    status = response.get("status_code")
    body = response.get("body")
    if status != 200 or error:
        reason = ""
        if isinstance(error, dict):
            reason = f"{error.get('code') or 'error'}: {error.get('message') or ''}".strip()
        elif isinstance(body, dict) and isinstance(body.get("error"), dict):
            reason = f"HTTP {status}: {body['error'].get('message') or ''}".strip()
        elif error:
            reason = str(error)
        return LineResult(custom_id, None, reason or f"HTTP {status}")
    try:
        result = _read_completion(body, [], None, 1, None, input_estimate=estimate)
    except _Retryable as exc:
        return LineResult(custom_id, None, str(exc))
    return LineResult(custom_id, result, None)


class BatchApi:
    """The Batch API calls of one run, through its ChatClient's openai client and limits."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client

    async def _call(self, what: str, make: Callable[[], Awaitable[_T]]) -> _T:
        client = self.client
        attempt = 0
        while True:
            attempt += 1
            try:
                return await make()
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                reason = f"{what}: {exc}"
                status = None
            except openai.APIStatusError as exc:
                status = exc.status_code
                reason = f"{what}: HTTP {status}: {exc.message}"
                if status != 429 and status < 500 and status not in (408, 409):
                    raise JudgeCallError(
                        client.redact(f"the endpoint {client.shown_url} refused {reason}"),
                        attempts=attempt, status=status, fatal=status in FATAL_STATUSES,
                    ) from None
            if attempt > client.retries:
                raise JudgeCallError(client.redact(
                    f"gave up after {attempt} attempts at {client.shown_url}: {reason}"),
                    attempts=attempt, status=status, fatal=True) from None
            delay = client._delay(attempt, None)
            if client.on_retry is not None:
                client.on_retry("batch_api", client.redact(
                    f"retrying after {reason} (attempt {attempt}, next in {delay:.1f} s)"))
            await client._sleep(delay)

    async def _find_file(self, name: str) -> str | None:
        """The id of an uploaded batch input file of this name (newest), if any."""
        async for f in self.client.api.files.list(purpose="batch"):
            if f.filename == name:
                return str(f.id)
        return None

    async def _find(self, batch_key: str) -> dict[str, Any] | None:
        seen = 0
        async for b in self.client.api.batches.list(limit=LIST_PAGE):
            if (b.metadata or {}).get(METADATA_KEY) == batch_key:
                return b.model_dump()
            seen += 1
            if seen >= LIST_LIMIT:
                break
        return None

    async def upload(self, name: str, data: bytes) -> str:
        """The file's id: the one uploaded under this name if there is one (a retry after a
        timeout must not upload it twice), else a new upload."""

        async def upload() -> str:
            found = await self._find_file(name)
            if found is not None:
                return found
            made = await self.client.api.files.create(file=(name, data, "application/jsonl"),
                                                      purpose="batch")
            return str(made.id)

        return await self._call("uploading the batch input file", upload)

    async def create(self, input_file_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        """The batch carrying metadata[METADATA_KEY]: the one the endpoint has already (a
        create that timed out may have been made; every attempt looks first), else a new one."""

        async def create() -> dict[str, Any]:
            found = await self._find(metadata[METADATA_KEY])
            if found is not None:
                return found
            made = await self.client.api.batches.create(
                input_file_id=input_file_id, endpoint=ENDPOINT,
                completion_window=COMPLETION_WINDOW, metadata=metadata)
            return made.model_dump()

        return await self._call("creating the batch", create)

    async def retrieve(self, batch_id: str) -> dict[str, Any]:
        async def retrieve() -> dict[str, Any]:
            return (await self.client.api.batches.retrieve(batch_id)).model_dump()

        return await self._call("reading the batch's status", retrieve)

    async def content(self, file_id: str) -> str:
        async def content() -> str:
            return (await self.client.api.files.content(file_id)).text

        return await self._call("downloading a result file", content)
