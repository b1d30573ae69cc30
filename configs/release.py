"""Export the released weights from the final runs of their training chains, with their benchmark scores in the
metadata.

Each weights file of ``src/focalstack/models/weights/`` is rebuilt by the stage configs of
``configs/releases/<weights file stem>/`` (their README.md gives the commands); :data:`RELEASES` maps the final
run of each chain to its weights file. Run from the project root (the folder that holds ``runs/``), after
``focalstack eval`` of the exported weights on the suite and the real-image benchmark wrote RESULTS
(results.json)::

    python configs/release.py --results report/results.json --weights-dir src/focalstack/models/weights

Which checkpoint is released: ``best.pt`` (lowest validation error) for the depth-supervised runs and for
runs chosen by a metric that needs no ground truth (``rerender``); for the other runs that must never see
depth, ``last.pt``, so no depth ground truth enters them even through model selection. ``--only METHOD``
exports a subset (the other runs need not be on disk).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from focalstack.train.trainer import export_weights

SIMULATED = ("configs/data/make_data.sh: 6 simulated splits (phone, dslr_macro, microscope x ideal, real), "
             "40/40/24/24/24/24 stacks of 8 x 256x256")
MIX = ("configs/data/mix.yaml: 1,000 stacks of 8 x 256x256, random views of the 26 training RGB-D "
       "photographs through the phone, dslr_macro, microscope and lightfield cameras (82 %), dead-leaves and "
       "procedural scenes")
REAL_MIX = MIX + "; after the stages on " + SIMULATED
NO_GT_MIX = ("configs/data/mix.yaml stripped of every ground truth (configs/data/strip_ground_truth.py): slices, focus "
             "distances and lens only; after the stages on " + SIMULATED)
LIGHTFIELD = ("configs/data/lightfield_mix.yaml: 800 stacks of 10 x 256x256, random views of the 26 training "
              "RGB-D photographs (80 %) and dead-leaves scenes through the 9 x 9-view light field, half with the "
              "4D Light Field protocol's sweep")
LIGHTFIELD_MIX = LIGHTFIELD + "; after dffwild (" + MIX + ")"
LIGHTFIELD_MIX_AIFDEPTHNET = LIGHTFIELD + "; after aifdepthnet (" + REAL_MIX + ")"
RELEASES = (  # (checkpoint, weights file, method name in the report[, training data])
    ("runs/real/aifdepthnet_light-depth/best.pt", "aifdepthnet_light.safetensors", "aifdepthnet_light", REAL_MIX),
    ("runs/aifdepthnet_light-aif-tta/last.pt", "aifdepthnet_light.aif.safetensors", "aifdepthnet_light:aif"),
    ("runs/aifdepthnet_light-self-render3/last.pt", "aifdepthnet_light.self.safetensors", "aifdepthnet_light:self"),
    ("runs/dffwild_light-depth-grad4/best.pt", "dffwild_light.safetensors", "dffwild_light"),
    # step 500 of 1,500, best.pt by the re-rendering error on stripped development stacks (no depth anywhere)
    ("runs/real/daifnet-self-nogt/best.pt", "daifnet.safetensors", "daifnet", NO_GT_MIX),
    # step 1,000 of 2,000 (the run was stopped there), chosen over the previous weights on the development split
    ("runs/real/aifdepthnet-depth/last.pt", "aifdepthnet.safetensors", "aifdepthnet", REAL_MIX),
    ("runs/aifdepthnet-aif2/last.pt", "aifdepthnet.aif.safetensors", "aifdepthnet:aif"),
    # 1,500 steps on the mix stripped of every ground truth; last.pt, also the lowest validation re-rendering error
    ("runs/real/aifdepthnet-self-nogt/last.pt", "aifdepthnet.self.safetensors", "aifdepthnet:self", NO_GT_MIX),
    # DfF in the Wild at the paper's size, from scratch on the mix
    ("runs/real/dffwild-depth/best.pt", "dffwild.safetensors", "dffwild", MIX),
    # dffwild fine-tuned on light-field stacks only (two stages of 1,500 steps)
    ("runs/real/dffwild-lightfield2/best.pt", "dffwild.lightfield.safetensors", "dffwild:lightfield", LIGHTFIELD_MIX),
    # aifdepthnet fine-tuned on light-field stacks only (one stage of 1,500 steps)
    ("runs/real/aifdepthnet-lightfield/best.pt", "aifdepthnet.lightfield.safetensors", "aifdepthnet:lightfield",
     LIGHTFIELD_MIX_AIFDEPTHNET),
)
KEEP = ("mae", "mse", "abs_rel", "delta1", "bump")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="results.json of focalstack eval on the suite")
    parser.add_argument("--weights-dir", type=Path, required=True)
    parser.add_argument("--runs", type=Path, default=Path("."), help="folder holding runs/")
    parser.add_argument("--only", action="append", default=[], metavar="METHOD",
                        help="export only these methods (repeat; default all)")
    parser.add_argument("--alias", action="append", default=[], metavar="METHOD=NAME",
                        help="the method's rows are named NAME in the report (a candidate evaluated as NAME:TAG)")
    args = parser.parse_args()
    rows = json.loads(args.results.read_text())["results"] if args.results else []
    aliases = dict(item.split("=", 1) for item in args.alias)
    for checkpoint, filename, method, *data in RELEASES:
        if args.only and method not in args.only:
            continue
        name = aliases.get(method, method)
        metrics = {r["dataset"]: {**{k: r["metrics"][k] for k in KEEP}, "seconds_per_stack": r["seconds_per_stack"]}
                   for r in rows if r["method"] == name}
        scores = {"suite_version": 1, "real_suite_version": 1, "splits": metrics} if metrics else {}
        path = export_weights(args.runs / checkpoint, args.weights_dir / filename, licence="MIT", metrics=scores,
                              data=data[0] if data else SIMULATED)
        path.chmod(0o644)
        print(f"wrote {path} from {checkpoint}")


if __name__ == "__main__":
    main()
