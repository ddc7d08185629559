"""Training throughput of every detector on CPU: channels_last against the default memory format.

For each model config (``conf/model/<name>.yaml``, built with ``pretrained=false``) this runs
a few optimiser steps (forward, BCE-with-logits, backward, Adam) on random images at the
model's declared input size, once with contiguous (NCHW) tensors, the baseline, and once with
``channels_last`` model and inputs, side by side in one process, and prints images/s and the
ratio channels_last / default.

    python benchmarks/bench_models.py                       # all models, batch 2, 3 timed steps
    python benchmarks/bench_models.py --models mesonet f3net --steps 5 --batch-size 4
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from dfd.config.instantiate import instantiate

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
MODELS = ["mesonet", "meso_inception", "xception", "efficientnet_b4", "f3net", "hybrid_vit_cnn"]


def build_net(name: str) -> torch.nn.Module:
    """The net of ``conf/model/<name>.yaml`` exactly as training builds it, without downloads."""
    with initialize_config_dir(config_dir=str(CONF_DIR)):
        cfg = compose(config_name="train", overrides=[f"model={name}"])
    with open_dict(cfg):
        if "pretrained" in cfg.model.net:
            cfg.model.net.pretrained = False
    return instantiate(cfg.model.net)


def train_images_per_s(net: torch.nn.Module, batch_size: int, steps: int, channels_last: bool) -> float:
    """Images per second over ``steps`` timed training steps after one warm-up step."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.train().to(memory_format=fmt)
    size = net.input_spec.size
    x = torch.randn(batch_size, 3, size, size).to(memory_format=fmt)
    y = torch.randint(0, 2, (batch_size,)).float()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        logits = net(x)
        loss_fn(logits[:, -1], y).backward()
        opt.step()

    step()  # warm-up: allocator, oneDNN primitive caches
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch_size * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MODELS, help="names of conf/model/*.yaml")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round and memory format")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per memory format")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}, best of {args.rounds} x {args.steps} steps"
    )
    print(
        f"{'model':<16}{'size':>6}{'params':>13}{'default img/s':>15}{'channels_last img/s':>21}{'ratio':>8}"
    )
    for name in args.models:
        torch.manual_seed(0)
        net = build_net(name)
        params = sum(p.numel() for p in net.parameters())
        # Alternate the two formats and keep each one's best round: the machine is shared, and
        # interleaving exposes both to the same background load.
        base, cl = 0.0, 0.0
        for _ in range(args.rounds):
            base = max(base, train_images_per_s(net, args.batch_size, args.steps, channels_last=False))
            cl = max(cl, train_images_per_s(net, args.batch_size, args.steps, channels_last=True))
        size = net.input_spec.size
        print(f"{name:<16}{size:>6}{params:>13,}{base:>15.2f}{cl:>21.2f}{cl / base:>7.2f}x", flush=True)
        del net


if __name__ == "__main__":
    main()
