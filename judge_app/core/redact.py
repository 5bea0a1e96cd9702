"""Secrets out of anything stored, printed, logged or shown: one function for all of them.

An endpoint URL can carry credentials (``https://user:pass@host/v1``, ``?api_key=...``), and
an endpoint's error body can echo the key it was sent. Everything that leaves the process or
lands in the database goes through `redact` (free text) or `redact_url` (one URL) first.
Pure string work: no I/O, so it can be used everywhere and tested alone.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter "secrets" would mask ordinary words (and are no secret)

# Query parameter names that carry credentials: key, api_key, apikey, token, access_token,
# secret, client_secret, sig, signature, password, auth, credential(s), X-Amz-Signature...
_SECRET_PARAM = re.compile(
    r"(?:^|[-_.])(?:api[-_]?key|key|token|secret|sig|signature|password|passwd|pwd|auth|"
    r"authorization|credentials?|session)$|^(?:apikey|accesstoken|token|code|sas)$",
    re.IGNORECASE,
)
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>`]+")
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{4,}", re.IGNORECASE)
_SK_TOKEN = re.compile(r"\b(sk|rk|pk|gsk|xai|hf|ghp|gho|github_pat)[-_][A-Za-z0-9_-]{8,}")
_KEY_VALUE = re.compile(
    r"""(["']?(?:api[-_]?key|x-api-key|access[-_]?token|secret|password|authorization)["']?"""
    r"""\s*[:=]\s*["']?)([^\s"',}&]{4,})""",
    re.IGNORECASE,
)


def is_secret_param(name: str) -> bool:
    """Does this query parameter name look like it carries a credential?"""
    return bool(_SECRET_PARAM.search(name.strip()))


def url_secrets(url: str) -> list[str]:
    """The credential values inside a URL (password, user, secret query values), so they can
    also be masked where an endpoint echoes them back in an error body."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    if parts.password:
        found += [parts.password, unquote(parts.password)]
    if parts.username and not parts.password:  # https://TOKEN@host: the name is the secret
        found += [parts.username, unquote(parts.username)]
    if parts.username:
        # As sent in a Basic Authorization header, which an endpoint may echo.
        found.append(base64.b64encode(unquote(parts.netloc.rsplit("@", 1)[0]).encode())
                     .decode())
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if value and is_secret_param(name):
            found.append(value)
    return [s for s in found if len(s) >= MIN_SECRET_LENGTH]


def redact_url(url: str) -> str:
    """The URL with userinfo and credential-looking query values replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not parseable as a URL: mask what looks like a secret anyway
        return _redact_patterns(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pieces = []
        for piece in query.split("&"):
            name, sep, value = piece.partition("=")
            pieces.append(f"{name}={MASK}" if sep and value and is_secret_param(unquote(name))
                          else piece)
        query = "&".join(pieces)
    fragment = parts.fragment
    if fragment and "=" in fragment:  # implicit-grant style #access_token=...
        fragment = "&".join(
            f"{n}={MASK}" if s and v and is_secret_param(n) else f"{n}{s}{v}"
            for n, s, v in (p.partition("=") for p in fragment.split("&")))
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _redact_patterns(text: str) -> str:
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _SK_TOKEN.sub(lambda m: f"{m.group(1)}-{MASK}", text)
    return _KEY_VALUE.sub(lambda m: f"{m.group(1)}{MASK}", text)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Free text (an error body, a message, a log line) with every secret masked: the given
    secret values wherever they appear, credentials in any URL, Bearer/Basic tokens, sk-...
    style keys and `api_key: value` pairs."""
    if not text:
        return text
    known = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len,
                   reverse=True)
    for secret in known:  # longest first, so a key containing another is masked whole
        text = text.replace(secret, MASK)
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    return _redact_patterns(text)
