#!/usr/bin/env bash
# Build the reference implementations' own virtual environments (git-ignored), once each.
# arena-rank pins its own numpy and jax, and fschat's package pulls a web stack we do not
# need, so neither may go into the project's .venv.
#   usage: benchmarks/reference_envs.sh [arena-rank|fschat|all]   (default: all)
# Prints the python interpreter of each environment; pip's output goes to .venvs/NAME.log.
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)/.venvs"
py="${PYTHON:-python3}"
ARENA_RANK="arena-rank==0.1.1"
FSCHAT="fschat==0.2.36"
# What fastchat/serve/monitor/elo_analysis.py imports (not torch, gradio, ...).
FSCHAT_DEPS=(numpy pandas scikit-learn tqdm pytz plotly requests)

pip_in() {  # pip_in DIR ARGS...
    "$1/bin/pip" install -q --disable-pip-version-check "${@:2}" >>"$1.log" 2>&1 \
        || { cat "$1.log" >&2; exit 1; }
}

make_env() {  # make_env NAME: (re)build unless complete, then print its python
    local dir="$root/$1"
    if [[ ! -f "$dir/.complete" ]]; then
        rm -rf "$dir" "$dir.log"
        mkdir -p "$root"
        "$py" -m venv "$dir"
        case "$1" in
            arena-rank) pip_in "$dir" "$ARENA_RANK" ;;
            fschat) pip_in "$dir" --no-deps "$FSCHAT"; pip_in "$dir" "${FSCHAT_DEPS[@]}" ;;
        esac
        touch "$dir/.complete"
    fi
    echo "$dir/bin/python"
}

case "${1:-all}" in
    arena-rank | fschat) make_env "$1" ;;
    all) make_env arena-rank; make_env fschat ;;
    *) echo "unknown environment: $1" >&2; exit 2 ;;
esac
