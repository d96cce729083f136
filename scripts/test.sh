#!/usr/bin/env bash
# Install everything the tests need into .venv, then run the faithfulness gate on the evaluation
# set (no LLM) and the whole test suite. Exits non-zero if either fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
. .venv/bin/activate
gate_dir="$(mktemp -d)"
trap 'rm -rf "$gate_dir"' EXIT
assistant eval --split test --gate --data-dir "$gate_dir/index" --report "$gate_dir/report.md"
python -m pytest -q
