#!/usr/bin/env bash
# Install everything the tests need into .venv, then run the whole test suite and the eval gate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
. .venv/bin/activate
python -m pytest -q
