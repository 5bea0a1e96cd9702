"""Text from tasks and models drawn as markdown: nothing remote, nothing live, bounded cost."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from judge_app.core.safe_text import (
    MAX_CHARS,
    MAX_DEPTH,
    ZWSP,
    inert_markdown,
    nesting_depth,
    too_costly_to_format,
)


def test_images_become_links_and_look_the_same() -> None:
    text = "see ![x](http://h/p.png) and ![r][ref] and `vec![1]`\n\n[ref]: http://h/q.png"
    safe = inert_markdown(text)
    assert "![" not in safe
    assert safe.replace(ZWSP, "") == text


def test_inert_schemes_and_character_references() -> None:
    safe = inert_markdown("[a](data:text/html,x) [b](JavaScript:alert(1)) [c](&#106;avascript:x)"
                          " <vbscript:x> &amp; &#x41;")
    assert not re.search(r"(?i)(data|javascript|vbscript):", safe)
    assert "&#" not in safe and "&amp;" not in safe
    assert "https://example.com/data:1" == inert_markdown("https://example.com/data:1").replace(
        ZWSP, "")


@given(st.text(alphabet="![]()&#;:datjvsciprf x\n`", max_size=60))
def test_no_image_or_reference_survives(text: str) -> None:
    safe = inert_markdown(text)
    assert "![" not in safe
    assert not re.search(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]+);", safe)
    assert safe.replace(ZWSP, "") == text.replace(ZWSP, "")


def test_nesting_depth_of_lists_and_quotes() -> None:
    assert nesting_depth("plain\n\n- a\n  - b\n    - c") == 2  # indent 4 -> 1, plus marker
    assert nesting_depth("> > > quoted") == 3
    assert nesting_depth("- - - - - x") == 5
    assert nesting_depth("1. one\n2) two") == 1
    deep = "\n".join("  " * i + "- x" for i in range(600))
    assert nesting_depth(deep) > MAX_DEPTH


def test_what_is_too_costly_to_format() -> None:
    assert too_costly_to_format("# Title\n\n- a\n  - b\n\n```py\nx = 1\n```") is None
    assert "nested" in (too_costly_to_format(">" * 200 + " deep") or "")
    assert "nested" in (too_costly_to_format("- " * 100 + "x") or "")
    assert "longer" in (too_costly_to_format("x" * (MAX_CHARS + 1)) or "")
