#!/bin/bash
# The simulated training and validation data of the released weights (configs/releases/*/README.md): 6 simulated
# splits (phone, DSLR macro, microscope x ideal, real camera effects), 40 (phone) or 24 (DSLR macro, microscope)
# stacks of 8 x 256x256 each for training (data/train), 3 stacks of 5 x 256x256 each for validation (data/val), and
# a development set for choosing between candidate weights (data/dev: 24 stacks of 5 x 256x256 per split, the
# suite's shape). Run from the project root; everything goes under ./data. Seeds differ from the benchmark suite's
# (20261122+), so no test stack is trained on.
# WORKERS=K: processes per split; PARALLEL=1: all splits at once (on a many-core machine). Every stack is
# made from (seed, index), so the data are the same whatever WORKERS and PARALLEL.
set -euo pipefail
pids=()
run() { if [ "${PARALLEL:-0}" = 1 ]; then "$@" & pids+=($!); else "$@"; fi; }
s=0
for profile in phone dslr_macro microscope; do
  num=24; [ "$profile" = phone ] && num=40
  for effects in ideal real; do
    s=$((s + 1))
    flag=""; [ "$effects" = ideal ] && flag="--ideal"
    run focalstack simulate -o "data/train/$profile-$effects" --profile "$profile" --num "$num" --size 256 --slices 8 \
      --seed $((7000 + s)) $flag -q --workers "${WORKERS:-1}"
    run focalstack simulate -o "data/val/$profile-$effects" --profile "$profile" --num 3 --size 256 --slices 5 \
      --seed $((9100 + s)) $flag -q
    run focalstack simulate -o "data/dev/$profile-$effects" --profile "$profile" --num 24 --size 256 --slices 5 \
      --seed $((9200 + s)) $flag -q
  done
done
for pid in "${pids[@]}"; do wait "$pid"; done  # fails if any split failed
