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
# The policy-corpus gate (eval/policy_thresholds.toml), where the corpus is: it is not in the repository.
policy_docs="${ASSISTANT_POLICY_CORPUS:-../shared/bench/policy-corpus/docs}"
if [ -d "$policy_docs" ]; then
  assistant bench policy-qa "$policy_docs" --split test --gate --data-dir "$gate_dir/policy-index"
else
  echo "the policy corpus is not at $policy_docs (set ASSISTANT_POLICY_CORPUS): its gate is skipped"
fi
python -m pytest -q
