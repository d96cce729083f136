#!/usr/bin/env bash
# Train the reader and the verifier on a lent GPU machine (one H200): four runs in parallel, each a
# background process with its own log, then their results packed into OUTDIR within the limits on
# what comes back from the machine (training/gpu_stage.py). Needs only python3 with torch (CUDA),
# transformers, safetensors, tokenizers and scipy: no project install, no network.
#
#   here, first:   .venv/bin/python -m training.gpu_stage stage      (writes .gpu-carry/, checks the travel size)
#   on the device: bash scripts/gpu_train.sh "$OUT"                  (carry: .gpu-carry)
#   here, after:   .venv/bin/python -m training.gpu_stage unpack FILES_AT models-from-gpu/
#
# Runs (name: what), most wanted first (the order in which they are brought back while they fit):
#   reader-6    reader, 6 layers, qa-train + qa-train-extra + in-domain questions, 2 epochs
#   verifier-4  verifier, 4 layers, SNLI + MultiNLI + in-domain claims
#   reader-4    reader, 4 layers, the same data as reader-6
#   verifier-6  verifier, 6 layers
# Each run has a time budget for its training loop (READER_MINUTES, VERIFIER_MINUTES: fewer steps are
# planned if it would not fit), so the whole script ends in about 7-8 minutes. Run folders, checkpoints and logs go to
# .gpu-work/ (ignored, kept while the machine stays warm): run the script again with the machine
# warm and the unfinished runs resume from their checkpoints, the finished ones are skipped.
#
# A rehearsal on the CPU (minutes; tiny runs through the same steps, staged base included):
#   GPU_DEVICE=cpu GPU_SMOKE=1 GPU_WORK=/tmp/gpu-rehearsal bash scripts/gpu_train.sh /tmp/gpu-rehearsal-out
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/gpu_train.sh OUTDIR}"
carry="${GPU_CARRY:-.gpu-carry}"
work="${GPU_WORK:-.gpu-work}"
python="${PYTHON:-python3}"
export PYTHONPATH=. PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p "$out" "$work/logs"

say() { echo "$(date +%H:%M:%S) $*" | tee -a "$out/progress.log"; }

versions='import torch, transformers as t; c = torch.cuda.is_available(); print("torch", torch.__version__, "transformers", t.__version__, "cuda", c, torch.cuda.get_device_name(0) if c else "")'
say "start: $(nproc) cores; $("$python" -c "$versions")"
[ -d "$work/base" ] || "$python" -m training.gpu_stage unpack-base "$carry" "$work/base" >/dev/null || { say "no staged base in $carry"; exit 2; }
data="$carry/data"
common=(--device "${GPU_DEVICE:-cuda}" --base "$work/base" --threads 4 --no-as-shipped --checkpoint-every 2000 --resume)
[ -n "${GPU_SMOKE:-}" ] && common+=(--limit 40 --max-steps 4 --evaluations 1 --threads 1)
reader=(--data "$data/qa-train" --qa-extra "$data/qa-train-extra" --extra-data "$data/policy-train" --extra-data training/data
        --batch-size 64 --learning-rate 8e-5 --epochs 2 --extra-repeat 4 --evaluations 3)
verifier=(--nli "$data/qa-train-extra" --claims "$data/policy-train" --claims training/data
          --batch-size 64 --learning-rate 7e-5 --epochs 4 --claims-repeat 4 --evaluations 3)

start_run() {  # name, minutes for the training loop, module, options...
  local name=$1 budget=$2 module=$3
  shift 3
  if [ -f "$work/$name.tar.xz" ]; then say "$name: done before, skipped"; return; fi
  ( "$python" -m "$module" "$@" --out "$work/$name" --time-budget "$budget" "${common[@]}" >>"$work/logs/$name.log" 2>&1 \
      && "$python" -m training.gpu_stage archive "$work/$name" >>"$work/logs/$name.log" 2>&1
    echo $? >"$work/logs/$name.rc" ) &
  say "$name: started (pid $!), log $work/logs/$name.log"
}

reader_minutes="${READER_MINUTES:-5.5}"      # the training loops' time budgets; the runs add about 1.5 minutes
verifier_minutes="${VERIFIER_MINUTES:-4.5}"
start_run reader-6 "$reader_minutes" training.reader_train "${reader[@]}" --layers 6
start_run verifier-4 "$verifier_minutes" training.verifier_train "${verifier[@]}" --layers 4
start_run reader-4 "$reader_minutes" training.reader_train "${reader[@]}" --layers 4
start_run verifier-6 "$verifier_minutes" training.verifier_train "${verifier[@]}" --layers 6

while [ -n "$(jobs -rp)" ]; do
  sleep 30
  for log in "$work"/logs/*.log; do say "$(basename "$log" .log): $(tail -n 1 "$log")"; done
done
wait
for rc in "$work"/logs/*.rc; do say "$(basename "$rc" .rc): exit status $(cat "$rc")"; done
"$python" -m training.gpu_stage collect "$out" --work "$work" reader-6 verifier-4 reader-4 verifier-6
