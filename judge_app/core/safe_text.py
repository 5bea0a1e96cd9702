"""Text from tasks and models, made safe to draw as markdown in a rater's browser.

Two threats, both from text we do not control (outputs, prompts, references, instructions,
model names):

- Remote resources. An image in markdown (``![x](http://host/pixel.png)``, reference-style
  ``![x][ref]``) makes every rater's browser fetch it, which tells the host their address and
  when they read the pair. Every image syntax starts with ``!`` directly followed by ``[``;
  a zero-width space between the two turns the image into a plain link, which loads nothing
  until clicked. The same invisible break defuses character references (``&#106;``), which
  markdown decodes inside link targets, and the ``data:``/``javascript:`` style schemes, so
  such links stay inert. This works the same inside code, where the break is invisible,
  so no markdown parser has to agree with ours on where code starts and ends. Raw HTML is
  already shown as text by the renderer (it never gets ``unsafe_allow_html``).
- Rendering cost. A markdown list nested hundreds of levels deep froze the page for
  seconds; past a nesting depth or a size, the text is shown raw instead.
"""

from __future__ import annotations

import re

ZWSP = "\u200b"
MAX_DEPTH = 24  # nesting: indentation / 4 + list and quote markers opening one line
MAX_CHARS = 60_000

_IMAGE = re.compile(r"!(?=\[)")
_CHAR_REF = re.compile(r"&(?=#[0-9]{1,8};|#[xX][0-9a-fA-F]{1,8};|[A-Za-z][A-Za-z0-9]{1,31};)")
_SCHEME = re.compile(r"(?i)\b(data|javascript|vbscript|file|blob|filesystem)(?=\s*:)")
_CONTAINER = re.compile(r"[ \t]*(?:>|(?:[-+*]|\d{1,9}[.)])(?=[ \t]|$))")


def inert_markdown(text: str) -> str:
    """The same text as markdown that can show links but loads nothing and runs nothing."""
    text = _IMAGE.sub("!" + ZWSP, text)
    text = _CHAR_REF.sub("&" + ZWSP, text)
    return _SCHEME.sub(lambda m: m.group(1) + ZWSP, text)


def nesting_depth(text: str) -> int:
    """An upper estimate of how deeply markdown would nest lists and quotes in this text."""
    deepest = 0
    for line in text.splitlines():
        expanded = line.expandtabs(4)
        indent = len(expanded) - len(expanded.lstrip(" "))
        depth, pos = indent // 4, 0
        while match := _CONTAINER.match(expanded, pos):
            if match.end() == pos:
                break
            depth, pos = depth + 1, match.end()
        deepest = max(deepest, depth)
    return deepest


def too_costly_to_format(text: str) -> str | None:
    """Why this text should be shown raw rather than formatted, or None when it is fine."""
    if len(text) > MAX_CHARS:
        return f"longer than {MAX_CHARS:,} characters"
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        return f"nested {depth} levels deep"
    return None
