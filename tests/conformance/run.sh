#!/bin/sh
# `make check` entry: run the conformance vectors against the adapter.
# MPP_CONFORMANCE_ADAPTER names the built adapter (set by `make check` for
# out-of-tree builds); without it adapter.json's command is used.
here=$(dirname "$0")
command -v python3 >/dev/null 2>&1 || { echo "python3 is required for the conformance vectors" >&2; exit 99; }
exec python3 "$here/run.py" "$@"
