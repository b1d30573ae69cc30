"""Is the data or the network the bottleneck of training? Seconds per batch of each.

Times, for a batch of B stacks cut to crop x crop with S slices:

- the simulator generating the batch on the fly (layered + disc, per-pixel + Gaussian);
- reading it from a dataset on disk (PNG decoding), and from the in-memory cache;
- one optimiser step (forward, loss, backward, Adam) of each light model in its regime.

    python benchmarks/bench_training.py --data data/train/phone-real --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from focalstack.models import create_model
from focalstack.simulate.dataset import SimulatedDataset, SimulationConfig
from focalstack.train.config import DataConfig, ModelConfig, TrainConfig
from focalstack.train.data import StepBatches, open_sources
from focalstack.train.trainer import training_loss

RUNS = (("aifdepthnet_light", "depth"), ("aifdepthnet_light", "aif"), ("dffwild_light", "depth"),
        ("daifnet_light", "self"))


def median_time(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a dataset folder written by focalstack simulate")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    b, crop, n = args.batch, args.crop, args.slices
    rows = []

    for renderer, psf in (("layered", "disc"), ("per_pixel", "gaussian")):
        sim = SimulatedDataset(SimulationConfig(profile="phone", num=1000, size=crop, slices=n, renderer=renderer,
                                                psf=psf))
        counter = iter(range(10**6))
        rows.append((f"simulate on the fly ({renderer}, {psf})",
                     median_time(lambda sim=sim: [sim[next(counter)] for _ in range(b)], args.repeat)))

    for cache in (False, True):
        data = DataConfig(folders=[args.data], crop=crop, min_slices=n, max_slices=n, cache=cache)
        batches = StepBatches(open_sources(data), data, batch_size=b, seed=0)
        if cache:  # fill the cache first: it is the steady state of a long run
            for i in range(len(batches.source)):
                batches.source[i]
        steps = iter(range(10**6))
        rows.append((f"read from disk{' (in-memory cache)' if cache else ''}",
                     median_time(lambda batches=batches: batches[next(steps)], args.repeat)))

    data = DataConfig(folders=[args.data], crop=crop, min_slices=n, max_slices=n, cache=True)
    batch = StepBatches(open_sources(data), data, batch_size=b, seed=0)[0]
    for name, regime in RUNS:
        config = TrainConfig(model=ModelConfig(name=name), regime=regime, data=data)
        model = create_model(name).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step(model=model, optimizer=optimizer, config=config):
            out = model(batch["slices"], 1.0 / batch["focus_positions"])
            loss, _ = training_loss(out, batch, config)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        rows.append((f"training step: {name} ({regime})", median_time(step, args.repeat)))

    print(f"batch of {b} stacks, {n} slices, {crop}x{crop}, {args.threads} thread(s), median of {args.repeat}\n")
    print("| what | s per batch |")
    print("|---|---|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
