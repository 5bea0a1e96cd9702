"""The message format between a database owner and the processes that work through it.

A message is a JSON header plus an optional binary body (Arrow IPC for DataFrames and Arrow
tables), framed by two big-endian lengths. Values in headers are tagged so that what
``fetchall()`` returns remotely has the same Python types as a local call (datetime, Decimal,
bytes, ...). Nothing is ever pickled: a peer can send data, never code.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import struct
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the functions that move tables: plain rows need neither
    import pandas as pd
    import pyarrow as pa

PROTOCOL = 1
_HEAD = struct.Struct("!II")
MAX_HEADER = 1 << 30


class PeerGone(ConnectionError):
    """The other end closed the connection or died."""


def encode(value: Any) -> Any:
    """A JSON-safe form of a query parameter or result value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime):
        return {"$": "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$": "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$": "time", "v": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, Decimal):
        return {"$": "decimal", "v": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$": "bytes", "v": bytes(value).hex()}
    if isinstance(value, uuid.UUID):
        return {"$": "uuid", "v": str(value)}
    if isinstance(value, (list, tuple)):
        return {"$": "tuple" if isinstance(value, tuple) else "list",
                "v": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"$": "dict", "v": [[encode(k), encode(v)] for k, v in value.items()]}
    if hasattr(value, "item"):  # numpy scalars in parameters
        return encode(value.item())
    raise TypeError(f"cannot send a value of type {type(value).__name__} to the database owner")


def decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    tag, v = value["$"], value["v"]
    if tag == "datetime":
        return dt.datetime.fromisoformat(v)
    if tag == "date":
        return dt.date.fromisoformat(v)
    if tag == "time":
        return dt.time.fromisoformat(v)
    if tag == "timedelta":
        return dt.timedelta(days=v[0], seconds=v[1], microseconds=v[2])
    if tag == "decimal":
        return Decimal(v)
    if tag == "bytes":
        return bytes.fromhex(v)
    if tag == "uuid":
        return uuid.UUID(v)
    if tag == "list":
        return [decode(x) for x in v]
    if tag == "tuple":
        return tuple(decode(x) for x in v)
    if tag == "dict":
        return {decode(k): decode(x) for k, x in v}
    raise ValueError(f"unknown value tag {tag!r}")


def table_to_bytes(table: pa.Table) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def bytes_to_table(data: bytes) -> pa.Table:
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def frame_to_bytes(frame: pd.DataFrame) -> bytes:
    import pyarrow as pa

    return table_to_bytes(pa.Table.from_pandas(frame, preserve_index=False))


def bytes_to_frame(data: bytes) -> pd.DataFrame:
    return bytes_to_table(data).to_pandas()


def send(sock: socket.socket, header: dict[str, Any], body: bytes = b"") -> None:
    head = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_HEAD.pack(len(head), len(body)) + head + body)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise PeerGone("connection closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    try:
        head_len, body_len = _HEAD.unpack(_recv_exact(sock, _HEAD.size))
        if head_len > MAX_HEADER:
            raise PeerGone("malformed message")
        header = json.loads(_recv_exact(sock, head_len))
        body = _recv_exact(sock, body_len) if body_len else b""
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise PeerGone(str(exc)) from exc
    if not isinstance(header, dict):
        raise PeerGone("malformed message")
    return header, body
