"""Content-addressed keys for judge calls: same question to the same judge, same key.

The key covers the judge's config hash (model, endpoint, full template text, every setting
that changes the answer) and the texts of the call in the order shown. Nothing else: a new
price, limit or judge name re-uses every cached answer; a new template or a swapped order
does not.
"""

from __future__ import annotations

import hashlib
import json


def call_key(
    config_hash: str, *, conversation: str, first: str, second: str,
    reference: str | None = None,
) -> str:
    """sha256 over the judge's config hash and the call's texts; `first` is shown as A."""
    blob = json.dumps(
        {"judge": config_hash, "conversation": conversation, "first": first,
         "second": second, "reference": reference},
        sort_keys=True, ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()
