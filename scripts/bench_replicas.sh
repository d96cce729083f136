#!/usr/bin/env bash
# Server mode against embedded mode, in one run (issue 13; figures in docs/benchmarks.md):
#   1. ingest throughput of CORPUS into a fresh embedded data folder and into a `chroma run` server;
#   2. warm ask latency on each (`assistant bench ask`);
#   3. the 20-client load test against two `assistant serve` replicas of the server (clients split).
# Usage: bash scripts/bench_replicas.sh OUT_DIR [CORPUS [LIMIT]]
#   CORPUS defaults to the bundled sources/; LIMIT takes the first N files of it (bench ingest --limit).
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
out="$(mkdir -p "$1" && cd "$1" && pwd)"
corpus="${2:-}"
limit="${3:-}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_url() { for _ in $(seq 1 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.5; done; echo "not ready: $1" >&2; return 1; }

chroma_port="$(free_port)"
"$(dirname "$(command -v python)")/chroma" run --path "$work/chroma" --host 127.0.0.1 --port "$chroma_port" \
  >"$out/chroma.log" 2>&1 &
pids+=($!)
wait_url "http://127.0.0.1:$chroma_port/api/v2/heartbeat"
server_env=(ASSISTANT_CHROMA_HOST=127.0.0.1 ASSISTANT_CHROMA_PORT="$chroma_port" ASSISTANT_CHROMA_COLLECTION=bench)

if [ -n "$corpus" ] && [ -n "$limit" ]; then  # the first LIMIT files, in ingest order, as links
  python - "$corpus" "$limit" "$work/corpus" <<'EOF'
import sys
from pathlib import Path
from ingest.pipeline import discover
root, limit, folder = Path(sys.argv[1]).resolve(), int(sys.argv[2]), Path(sys.argv[3])
for f in discover([root])[0][:limit]:
    link = folder / f.resolve().relative_to(root)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(f.resolve())
EOF
  corpus="$work/corpus"
fi
ingest_args=("${corpus:-sources}" --no-raw)  # the two ingests are the comparison
echo "== ingest, embedded" | tee "$out/summary.txt"
assistant bench ingest "${ingest_args[@]}" --data-dir "$work/embedded" --out "$out/ingest-embedded" 2>&1 \
  | tee "$out/ingest-embedded.log" | grep -E "paragraphs|throughput|ingest" | tee -a "$out/summary.txt"
echo "== ingest, chroma server" | tee -a "$out/summary.txt"
env "${server_env[@]}" assistant bench ingest "${ingest_args[@]}" --data-dir "$work/server-ingest" \
  --out "$out/ingest-server" 2>&1 | tee "$out/ingest-server.log" | grep -E "paragraphs|throughput|ingest" \
  | tee -a "$out/summary.txt"

# Warm ask: the bundled questions on the bundled sources; the Python documentation's on a corpus.
ask_embedded=(--data-dir "$work/embedded")
ask_server=(--data-dir "$work/server-ask")
if [ -n "$corpus" ]; then
  # The corpus form of bench ask picks that corpus's questions: it re-uses an index built in its cache
  # folder, so the embedded one is linked there and the server one is found unchanged on the server.
  ask_embedded=("$work/embedded")
  ask_server=("$corpus" --cache "$work/server-cache")
fi
echo "== ask, embedded" | tee -a "$out/summary.txt"
assistant bench ask "${ask_embedded[@]}" --out "$out/ask-embedded" 2>&1 | tee "$out/ask-embedded.log" \
  | grep -E "^\| (total|read|dense|bm25)" | tee -a "$out/summary.txt"
echo "== ask, chroma server (a replica's cache filled from the server)" | tee -a "$out/summary.txt"
env "${server_env[@]}" assistant bench ask "${ask_server[@]}" --out "$out/ask-server" 2>&1 \
  | tee "$out/ask-server.log" | grep -E "^\| (total|read|dense|bm25)" | tee -a "$out/summary.txt"

echo "== load test, 20 clients split between two replicas" | tee -a "$out/summary.txt"
urls=()
for name in a b; do
  port="$(free_port)"
  mkdir -p "$work/replica-$name"
  env "${server_env[@]}" ASSISTANT_DATA_DIR="$work/replica-$name" ASSISTANT_LLM_BASE_URL= \
    assistant serve --no-ingest --port "$port" >"$out/replica-$name.log" 2>&1 &
  pids+=($!)
  urls+=(--url "http://127.0.0.1:$port")
done
for ((i = 1; i < ${#urls[@]}; i += 2)); do wait_url "${urls[$i]}/readyz"; done
python -m eval.load_test "${urls[@]}" --clients 20 --questions 400 --json >"$out/load.json"
python - "$out/load.json" <<'EOF' | tee -a "$out/summary.txt"
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['questions']} questions, errors {r['errors']}, {r['throughput_qps']:.1f} q/s, p50 {r['p50_ms']:.0f} ms, "
      f"p95 {r['p95_ms']:.0f} ms, answers per replica {sorted(r['answered_by'].values())}")
EOF
