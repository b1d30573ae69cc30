#!/bin/bash
# One GPU stage for the all-in-focus-supervised and the self-supervised networks, side by side on one GPU, in a
# fixed wall-time budget (docs/training.md, "GPU stage"). Run from the folder that holds configs/ (the data go to
# ./data, the runs to ./runs):
#
#   BUDGET_S=420 bash configs/train/gpu_finetune.sh
#
# 1. makes the training data (configs/train/make_data.sh, all splits at once, WORKERS processes each);
# 2. probes each config's seconds per step for PROBE_STEPS steps, both at once (runs/probe-*);
# 3. trains both at once for as many steps as the rest of the budget allows (less MARGIN_S for the last
#    validation and checkpoint), so that each cosine schedule ends inside the budget.
set -euo pipefail
start=$(date +%s)
budget=${BUDGET_S:-420}; margin=${MARGIN_S:-45}; probe=${PROBE_STEPS:-50}
configs=(configs/train/aifdepthnet_light-aif-gpu.yaml configs/train/daifnet_light-self-gpu.yaml)
mkdir -p runs
[ -d data/train ] || PARALLEL=1 WORKERS=${WORKERS:-2} bash configs/train/make_data.sh
echo "data ready after $(( $(date +%s) - start )) s"
pids=()
for cfg in "${configs[@]}"; do
  name=$(basename "$cfg" .yaml)
  sed -e "s#^out: .*#out: runs/probe-$name#" -e "s#^steps: .*#steps: $probe#" -e "s#^val_every: .*#val_every: 100000#" \
    "$cfg" > "runs/probe-$name.yaml"
  rm -rf "runs/probe-$name"
  focalstack train "runs/probe-$name.yaml" -q > "runs/probe-$name.log" 2>&1 & pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
pids=()
for cfg in "${configs[@]}"; do
  name=$(basename "$cfg" .yaml)
  rate=$(python3 -c "import json,sys; print([r for r in map(json.loads, open(sys.argv[1])) if 'sec_per_step' in r][-1]
                     ['sec_per_step'])" "runs/probe-$name/metrics.jsonl")
  left=$(( budget - margin - ($(date +%s) - start) ))
  steps=$(python3 -c "print(max(1, int($left / $rate)))")
  echo "$name: $rate s/step in the probe, $left s left: $steps steps"
  focalstack train "$cfg" --steps "$steps" -q > "runs/$name.log" 2>&1 & pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
echo "done after $(( $(date +%s) - start )) s"
