"""Training throughput of every detector on CPU: channels_last against the default memory format.

For each model config (``conf/model/<name>.yaml``, built with ``pretrained=false``) this runs
a few optimiser steps (forward, BCE-with-logits, backward, Adam) on random images at the
model's declared input size, once with contiguous (NCHW) tensors, the baseline, and once with
``channels_last`` model and inputs, side by side in one process, and prints images/s and the
ratio channels_last / default.

    python benchmarks/bench_models.py                       # all models, batch 2, 3 timed steps
    python benchmarks/bench_models.py --models mesonet f3net --steps 5 --batch-size 4

The foundation rows (``model=foundation``, issue 26): CLIP ViT-B/16 (and ViT-L/14 with
``--full``) at 224 px under each tuning mode, training (AdamW on the trainable parameters) and
inference images/s and the peak resident memory of a process doing only that, each against
``full`` tuning as the ratio. Every (backbone, mode) runs in its own process, so its peak is its own.

    python benchmarks/bench_models.py --models none          # the foundation rows only
    python benchmarks/bench_models.py --full                 # ViT-L/14 too (its SVD split alone takes ~75 s)

The temporal rows (``model=ftcn|tall|temporal_head``, issue 28): each model config as training
builds it (``pretrained=false``) on random clips [B, T, 3, S, S] at its paper's clip length,
training (its config's optimizer on the trainable parameters) and inference clips/s (and
frames/s, T per clip), and the peak resident memory of a process doing only that (one process
per row, as for the foundation rows). The baseline, measured first in the same run, is the FF++
frame detector (``model=xception``, 299 px) scoring as many crops one by one; the ratios are
frames/s against it.

    python benchmarks/bench_models.py --models none --foundation none             # the temporal rows only
    python benchmarks/bench_models.py --models none --foundation none --temporal tall
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


FOUNDATION_BACKBONES = ["vit_base_patch16_clip_224.openai"]
FOUNDATION_FULL = ["vit_large_patch14_clip_224.openai"]
TUNINGS = ["linear", "layernorm", "svd", "lora", "full"]


def step_rates(
    net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, opt, steps: int
) -> tuple[float, float]:
    """Training and inference samples/s of ``net`` on the batch ``x`` (one warm-up step each, then
    ``steps`` timed ones; BCE on the last logit)."""

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.binary_cross_entropy_with_logits(net(x)[:, -1], y).backward()
        opt.step()

    net.train()
    train_step()
    start = time.perf_counter()
    for _ in range(steps):
        train_step()
    train = len(x) * steps / (time.perf_counter() - start)
    net.eval()
    with torch.inference_mode():
        net(x)
        start = time.perf_counter()
        for _ in range(steps):
            net(x)
        infer = len(x) * steps / (time.perf_counter() - start)
    return train, infer


def foundation_row(backbone: str, tuning: str, batch_size: int, steps: int) -> dict[str, float]:
    """Training and inference images/s and the peak RSS (MB) of one (backbone, tuning), in this process."""
    import resource

    from dfd.models.nets.foundation import FoundationNet

    torch.manual_seed(0)
    net = FoundationNet(backbone=backbone, tuning=tuning, pretrained=False)
    size = net.input_spec.size
    x = torch.randn(batch_size, 3, size, size)
    y = torch.randint(0, 2, (batch_size,)).float()
    trainable = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-4)

    train, infer = step_rates(net, x, y, opt, steps)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "train": train,
        "infer": infer,
        "peak_mb": peak_mb,
        "trainable": sum(p.numel() for p in trainable),
    }


def _foundation_child(queue, backbone: str, tuning: str, batch_size: int, steps: int, threads: int) -> None:
    if threads:
        torch.set_num_threads(threads)
    queue.put(foundation_row(backbone, tuning, batch_size, steps))


def foundation_rows(backbones: list[str], batch_size: int, steps: int, threads: int) -> None:
    """Print each backbone's tuning modes against ``full`` (one fresh process per row)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    print(f"\nmodel=foundation, batch {batch_size}, {steps} timed steps; ratios against tuning=full")
    print(f"{'backbone':<36}{'tuning':<11}{'trainable':>13}{'train img/s':>13}{'x':>7}{'infer img/s':>13}{'x':>7}"
          f"{'peak MB':>9}{'x':>7}")  # fmt: skip
    for backbone in backbones:
        rows = {}
        for tuning in TUNINGS:
            queue = ctx.Queue()
            child = ctx.Process(
                target=_foundation_child, args=(queue, backbone, tuning, batch_size, steps, threads)
            )
            child.start()
            rows[tuning] = queue.get()
            child.join()
        full = rows["full"]
        for tuning, r in rows.items():
            print(f"{backbone:<36}{tuning:<11}{r['trainable']:>13,}{r['train']:>13.2f}{r['train'] / full['train']:>6.2f}x"
                  f"{r['infer']:>13.2f}{r['infer'] / full['infer']:>6.2f}x{r['peak_mb']:>9.0f}"
                  f"{r['peak_mb'] / full['peak_mb']:>6.2f}x", flush=True)  # fmt: skip


#: Temporal rows: name → (model config overrides, clip length T). FTCN at the 16 frames of its
#: released configuration, TALL at the paper's 4 (a 2x2 thumbnail), TemporalHead at the data's
#: default 8 over its default frame net (CLIP ViT-B/16, frozen) and over a tuned EfficientNet-B4.
TEMPORAL = {
    "ftcn": (["model=ftcn"], 16),
    "tall": (["model=tall"], 4),
    "temporal_head": (["model=temporal_head"], 8),
    "temporal_head_b4": (["model=temporal_head", "model/frame_net=efficientnet_b4", "model.net.freeze_frame_net=false"], 8),
}  # fmt: skip


#: The named baseline of the temporal rows: the FF++ frame detector (Xception, 299 px) scoring the
#: same number of crops one by one (a clip of 8 = 8 crops); the ratios are frames/s against it.
FRAME_BASELINE = (["model=xception"], 8)


def temporal_row(name: str, batch_size: int, steps: int) -> dict[str, float]:
    """Training and inference clips/s and the peak RSS (MB) of one temporal model, in this process."""
    import resource

    from dfd.models.detector_module import count_parameters

    overrides, clip_len = TEMPORAL.get(name) or FRAME_BASELINE
    with initialize_config_dir(config_dir=str(CONF_DIR)):
        extra = [f"++data.clip_len={clip_len}"] if name in TEMPORAL else []
        cfg = compose(config_name="train", overrides=[*overrides, *extra])
    with open_dict(cfg):
        cfg.model.net.pretrained = False
    torch.manual_seed(0)
    net = instantiate(cfg.model.net)
    size = net.input_spec.size
    # the frame baseline reads the same number of crops per step, one by one: [B·T, 3, S, S]
    shape = (
        (batch_size, clip_len, 3, size, size) if name in TEMPORAL else (batch_size * clip_len, 3, size, size)
    )
    x = torch.randn(*shape)
    y = torch.randint(0, 2, (shape[0],)).float()
    trainable = [p for p in net.parameters() if p.requires_grad]
    opt = instantiate(cfg.model.optimizer)(trainable)

    train, infer = step_rates(net, x, y, opt, steps)
    if name not in TEMPORAL:  # samples were single crops: as clips of T, for the same columns
        train, infer = train / clip_len, infer / clip_len
    return {
        "size": size,
        "clip_len": clip_len,
        "params": count_parameters(net)["total"],
        "trainable": sum(p.numel() for p in trainable),
        "train": train,
        "infer": infer,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _temporal_child(queue, name: str, batch_size: int, steps: int, threads: int) -> None:
    if threads:
        torch.set_num_threads(threads)
    queue.put(temporal_row(name, batch_size, steps))


def temporal_rows(names: list[str], batch_size: int, steps: int, threads: int) -> None:
    """Print each temporal model's clips/s and peak memory (one fresh process per row)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    print(
        f"\ntemporal models (clips of T crops), batch {batch_size} clips, {steps} timed steps; "
        "ratios: frames/s against model=xception scoring the same crops one by one (first row)"
    )
    print(f"{'model':<18}{'T':>4}{'size':>6}{'params':>13}{'trainable':>13}{'train clips/s':>15}{'frames/s':>10}"
          f"{'ratio':>7}{'infer clips/s':>15}{'frames/s':>10}{'ratio':>7}{'peak MB':>9}")  # fmt: skip
    base = None
    for name in ["xception (frames)", *names]:
        queue = ctx.Queue()
        child = ctx.Process(target=_temporal_child, args=(queue, name, batch_size, steps, threads))
        child.start()
        r = queue.get()
        child.join()
        t = r["clip_len"]
        base = base or r
        print(f"{name:<18}{t:>4}{r['size']:>6}{r['params']:>13,}{r['trainable']:>13,}{r['train']:>15.3f}"
              f"{r['train'] * t:>10.2f}{r['train'] * t / (base['train'] * base['clip_len']):>6.2f}x"
              f"{r['infer']:>15.3f}{r['infer'] * t:>10.2f}{r['infer'] * t / (base['infer'] * base['clip_len']):>6.2f}x"
              f"{r['peak_mb']:>9.0f}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MODELS, help="names of conf/model/*.yaml")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round and memory format")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per memory format")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch's default)")
    parser.add_argument("--full", action="store_true", help="the foundation rows for ViT-L/14 too")
    parser.add_argument("--foundation", nargs="+", default=["all"], help="all | none: the foundation rows")
    parser.add_argument("--temporal", nargs="+", default=list(TEMPORAL), help=f"of {list(TEMPORAL)}, or none")
    args = parser.parse_args()
    if args.models == ["none"]:
        args.models = []
    if args.temporal == ["none"]:
        args.temporal = []
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
    if args.foundation != ["none"]:
        backbones = FOUNDATION_BACKBONES + (FOUNDATION_FULL if args.full else [])
        foundation_rows(backbones, args.batch_size, max(1, args.steps - 1), args.threads)
    if args.temporal:
        temporal_rows(args.temporal, args.batch_size, max(1, args.steps - 1), args.threads)


if __name__ == "__main__":
    main()
