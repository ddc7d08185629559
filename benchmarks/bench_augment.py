"""The price of each augmentation preset: training DataLoader images/s against ``augment=default``.

One set of 256 px face crops, one ``FaceCropDataModule`` per preset (224 px, batch 32), the same
loader settings; the presets are timed in turn, best of ``--rounds`` rounds each, so that a
burst of load on a shared machine hits them alike. Batch mixing (MixUp, CutMix) runs on the
device after the loader, so it is timed as the loader plus ``on_after_batch_transfer``.

python benchmarks/bench_augment.py [--images 256] [--workers 0] [--rounds 2]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dataloader import SIZE, make_crops  # noqa: E402

from dfd.core.input_spec import InputSpec  # noqa: E402
from dfd.data.datamodule import FaceCropDataModule  # noqa: E402

#: preset name → augment config (as conf/augment/ composes them)
PRESETS = {
    "default": {"base": "default"},
    "none": {"base": "none"},
    "strong": {"base": "strong"},
    "default+gridmask": {"base": "default", "gridmask": {"ratio": 0.4, "p": 0.5}},
    "default+dct_noise": {
        "base": "default",
        "dct_noise": {"bands": ["mid", "high"], "std": [2.0, 8.0], "p": 0.5},
    },
    "default+mixup+cutmix": {"base": "default", "batch_mix": {"mixup_alpha": 0.4, "cutmix_alpha": 1.0}},
    "strong+gridmask+dct_noise+mixup": {
        "base": "strong",
        "gridmask": {"ratio": 0.4, "p": 0.5},
        "dct_noise": {"bands": ["mid", "high"], "std": [2.0, 8.0], "p": 0.5},
        "batch_mix": {"mixup_alpha": 0.4},
    },
}


def images_per_second(dm: FaceCropDataModule) -> float:
    """One epoch of the training loader, batches mixed as in training."""
    dm.trainer = SimpleNamespace(training=True)
    loader = dm.train_dataloader()
    next(iter(loader))  # warm-up
    n, t0 = 0, time.perf_counter()
    for batch in loader:
        batch = dm.on_after_batch_transfer(batch, 0)
        n += len(batch["image"])
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    try:
        make_crops(tmp, args.images)
        modules = {}
        for name, augment in PRESETS.items():
            modules[name] = FaceCropDataModule(root=str(tmp), input_spec=InputSpec(SIZE), batch_size=32,
                                               num_workers=args.workers, val_fraction=0, augment=augment)  # fmt: skip
            modules[name].setup()
        best = dict.fromkeys(PRESETS, 0.0)
        for _ in range(args.rounds):
            for name, dm in modules.items():
                best[name] = max(best[name], images_per_second(dm))
        base = best["default"]
        print(f"images: {args.images} crops of 256 px → {SIZE} px, batch 32, num_workers={args.workers}, "
              f"best of {args.rounds} rounds")  # fmt: skip
        print(f"{'augment':<34}{'images/s':>10}{'vs default':>12}")
        for name, rate in best.items():
            print(f"{name:<34}{rate:>10.1f}{rate / base:>11.2f}x")
        print(f"strong against default: {best['strong'] / base:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
