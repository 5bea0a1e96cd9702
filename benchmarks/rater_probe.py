"""Where a vote's time goes on the server: Streamlit run with timestamps, for the benchmark.

``python benchmarks/rater_probe.py LOG -- ARGV...`` runs ``judge-app ARGV`` (or, with
``--streamlit``, ``streamlit ARGV``) in this process after wrapping a few Streamlit methods
so that every BackMsg received, script run started and stopped, callback phase and
ForwardMsg written to the websocket appends one JSON line (wall clock, ms since the epoch)
to LOG. bench_rater_browser.py --probe reads these lines next to the page's own timestamps
(the same clock) to split each vote into: browser to server, callbacks, page script, server
to browser, browser drawing. Benchmark tool only: the app never imports it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

_LOCK = threading.Lock()
_OUT: Any = None


def _log(**event: Any) -> None:
    event["t"] = time.time() * 1000
    line = json.dumps(event)
    with _LOCK:
        _OUT.write(line + "\n")
        _OUT.flush()


def install(path: str) -> None:
    """Wrap the Streamlit methods a vote goes through; each logs when it ran."""
    global _OUT
    _OUT = open(path, "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)

    from streamlit.runtime.app_session import AppSession
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunnerEvent
    from streamlit.runtime.state.session_state import SessionState
    from streamlit.web.server.starlette.starlette_websocket import StarletteSessionClient

    handle_backmsg = AppSession.handle_backmsg

    def logged_backmsg(self: Any, msg: Any) -> None:
        kind = msg.WhichOneof("type")
        extra = {}
        if kind == "rerun_script":
            extra = {"fragment": msg.rerun_script.fragment_id,
                     "widgets": len(msg.rerun_script.widget_states.widgets)}
        _log(ev="backmsg", kind=kind, **extra)
        handle_backmsg(self, msg)

    AppSession.handle_backmsg = logged_backmsg  # type: ignore[method-assign]

    on_event = AppSession._on_scriptrunner_event

    def logged_event(self: Any, sender: Any, event: Any, *args: Any, **kw: Any) -> None:
        if event != ScriptRunnerEvent.ENQUEUE_FORWARD_MSG:
            _log(ev="script", kind=str(event.value),
                 fragments=len(kw.get("fragment_ids_this_run") or []))
        on_event(self, sender, event, *args, **kw)

    AppSession._on_scriptrunner_event = logged_event  # type: ignore[method-assign]

    will_rerun = SessionState.on_script_will_rerun

    def logged_will_rerun(self: Any, *args: Any, **kw: Any) -> None:
        _log(ev="callbacks_start")
        try:
            will_rerun(self, *args, **kw)
        finally:
            _log(ev="callbacks_end")

    SessionState.on_script_will_rerun = logged_will_rerun  # type: ignore[method-assign]

    write = StarletteSessionClient.write_forward_msg

    def logged_write(self: Any, msg: Any) -> None:
        kind = msg.WhichOneof("type")
        size = msg.ByteSize()
        extra: dict[str, Any] = {}
        if kind == "delta":
            extra["delta"] = msg.delta.WhichOneof("type")
            if extra["delta"] == "new_element":
                extra["element"] = msg.delta.new_element.WhichOneof("type")
        elif kind == "script_finished":
            extra["status"] = int(msg.script_finished)
        _log(ev="write", kind=kind, bytes=size, **extra)
        write(self, msg)

    StarletteSessionClient.write_forward_msg = logged_write  # type: ignore[method-assign]
    _log_services()


def _log_services() -> None:
    """The pair page's service calls, timed in whichever thread runs them (the vote may be
    stored beside the script that draws the next pair, and the next pair read ahead)."""
    try:
        from judge_app.services import rating
    except ImportError:  # the floor app: no judge_app services
        return
    for name in ("submit", "take_ahead", "rating_view"):
        real = getattr(rating, name, None)
        if real is None:
            continue

        def timed(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _real(*args, **kwargs)
            finally:
                _log(ev="service", name=_name, thread=threading.current_thread().name,
                     ms=(time.perf_counter() - start) * 1000)

        setattr(rating, name, timed)


def main() -> None:
    log, sep, *argv = sys.argv[1:]
    assert sep == "--", "usage: rater_probe.py LOG -- [--streamlit] ARGV..."
    install(log)
    if argv and argv[0] == "--streamlit":
        from streamlit.web import cli as streamlit_cli

        sys.argv = ["streamlit", *argv[1:]]
        streamlit_cli.main()
        return
    from judge_app.cli import main as judge_main

    sys.argv = ["judge-app", *argv]
    sys.exit(judge_main())


if __name__ == "__main__":
    main()
