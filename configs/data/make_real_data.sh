#!/bin/bash
# The real-image data of the released weights (configs/releases/*/README.md), from the RGB-D photographs under
# RGBD (default ../shared/data, the layout of shared/data: rgbd/, rgbd_more/). Run from the project root:
#
#   1. the training mix: 1,000 stacks of 8 x 256x256 (configs/data/mix.yaml), one dataset per source in data/mix,
#      and the light-field data of dffwild:lightfield and aifdepthnet:lightfield: 800 stacks of 10 x 256x256
#      (configs/data/lightfield_mix.yaml) in data/lightfield-mix;
#   2. the development split of the real-image benchmark (its 6 development photographs through the phone, DSLR
#      macro, microscope and light-field cameras), which `focalstack eval` generates on first use in
#      .focalstack-suite/real-v1/realdev-* (scoring the classical default on it on the way);
#   3. copies of both without any ground truth (configs/data/strip_ground_truth.py), read as folders of one's own
#      stacks: data/mix-nogt and data/realdev-nogt.
#
# The benchmark's 11 test photographs are in none of them. WORKERS=K: processes writing stacks.
set -euo pipefail
rgbd=${RGBD:-../shared/data}
focalstack simulate-mix configs/data/mix.yaml -o data/mix --workers "${WORKERS:-2}"
focalstack simulate-mix configs/data/lightfield_mix.yaml -o data/lightfield-mix --workers "${WORKERS:-2}"
focalstack eval --real "$rgbd" --real-split dev -m sml -o data/realdev-report --workers "${WORKERS:-2}"
python configs/data/strip_ground_truth.py data/mix data/mix-nogt
python configs/data/strip_ground_truth.py .focalstack-suite/real-v1 data/realdev-nogt --only realdev-
