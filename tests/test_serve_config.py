"""The Streamlit options `judge-app serve` runs with, as Streamlit itself reads them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# In a fresh process (Streamlit's config is global), from a folder with no
# .streamlit/config.toml: what counts is the command line `judge-app serve` builds.
READ_OPTIONS = """
import sys
from streamlit import config
from streamlit.web import bootstrap, cli
from judge_app.cli.serve import streamlit_argv

argv = streamlit_argv("127.0.0.1", 8765)
assert argv[:2] == ["streamlit", "run"], argv
ctx = cli.main_run.make_context("run", argv[2:])
bootstrap.load_config_options(flag_options={k: v for k, v in ctx.params.items()
                                            if k not in ("target", "args")})
for name in sys.argv[1:]:
    print(name, config.get_option(name))
"""


def test_serve_skips_the_full_garbage_collection_after_every_run(tmp_path: Path) -> None:
    """A full gc.collect() after each script run held back the end of every vote's redraw
    (benchmarks/README.md, the rater's wait): the server turns it off."""
    names = ["runner.postScriptGC", "server.address", "server.port",
             "browser.gatherUsageStats", "client.showErrorDetails"]
    done = subprocess.run([sys.executable, "-c", READ_OPTIONS, *names], cwd=tmp_path,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                               "HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    options = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert options == {"runner.postScriptGC": "False", "server.address": "127.0.0.1",
                       "server.port": "8765", "browser.gatherUsageStats": "False",
                       "client.showErrorDetails": "type"}
