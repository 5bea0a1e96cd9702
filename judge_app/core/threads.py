"""Single-threaded BLAS inside the rating math: small matrices on a busy machine.

OpenBLAS splits even a 200 x 200 solve over every core, and each call then waits until all
its threads are scheduled. With the cores busy (the app server, a judge batch, other users)
we measured a 200 x 200 solve at 217 ms on two threads against 5 ms on one. The limit is
taken by the first caller and given back by the last, so concurrent callers (Streamlit
sessions are threads) cannot leave it set.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_depth = 0
_limit: Any = None
_controller: ThreadpoolController | None = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    global _depth, _limit, _controller
    with _lock:
        if _depth == 0:
            if _controller is None:
                _controller = ThreadpoolController()  # finds the BLAS libraries once (~50 ms)
            _limit = _controller.limit(limits=1, user_api="blas")
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _limit.restore_original_limits()
                _limit = None
