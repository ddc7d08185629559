"""(b) Training DataLoader images/s: FaceCropDataModule (OpenCV decode + albumentations) against
torchvision ``ImageFolder`` with PIL transforms, same crops, size and augmentations.

Both pipelines: random resized crop to 224 px, horizontal flip, JPEG compression, Gaussian blur,
Gaussian noise, colour jitter, normalisation; batch 32, ``num_workers`` workers each.

A third row reads the same crops as track clips (``data.clips=true``, :mod:`dfd.data.clips`):
clips of ``--clip-len`` crops of one video, batches of 32 crops in all, one augmentation draw per
clip; its rate is in crops/s, against the frame loader's.

python benchmarks/bench_dataloader.py [--images 256] [--workers 0] [--clip-len 8]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import pandas as pd
import torch
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import v2

from dfd.core.input_spec import IMAGENET_MEAN, IMAGENET_STD, InputSpec
from dfd.data.datamodule import FaceCropDataModule
from dfd.data.synthetic import mini
from dfd.preprocessing.manifest import write_manifest

SIZE = 224


def make_crops(root: Path, n: int) -> None:
    """``n`` 256 px face crops, half real half fake, as a manifest and as an ImageFolder tree."""
    rows = []
    spec = mini.VideoSpec(320, 240, 8)
    for i in range(n):
        label = i % 2
        if i % 8 == 0 or i % 8 == 1:
            crops = mini.face_crop_images(
                i // 8, 8, seed=i, spec=spec, method="FaceSwap" if label else None, size=256
            )
        crop = crops[(i // 2) % 4]
        rel = f"{'fake' if label else 'real'}/{i:05d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        rows.append({"video_id": f"v{i // 16}_{label}", "frame_idx": i, "label": label, "method": "m", "split": "train",
                     "group": str(i // 8), "crop_path": rel, "status": "ok", "reason": ""})  # fmt: skip
    write_manifest(root, pd.DataFrame(rows), {})


def images_per_second(loader: DataLoader, epochs: int = 2) -> float:
    """Crops per second through ``loader`` (a clip batch ``[B, T, ...]`` counts its B × T crops)."""
    next(iter(loader))  # warm-up (worker start, first file reads)
    n, t0 = 0, time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            images = batch["image"] if isinstance(batch, dict) else batch[0]
            n += images.shape[0] * (images.shape[1] if images.ndim == 5 else 1)
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--clip-len", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    try:
        make_crops(tmp, args.images)
        dm = FaceCropDataModule(
            root=str(tmp), input_spec=InputSpec(SIZE), batch_size=32, num_workers=args.workers, val_fraction=0
        )
        dm.setup()
        ours = images_per_second(dm.train_dataloader())
        clip_dm = FaceCropDataModule(
            root=str(tmp), input_spec=InputSpec(SIZE), batch_size=max(1, 32 // args.clip_len),
            num_workers=args.workers, val_fraction=0, clips=True, clip_len=args.clip_len,
        )  # fmt: skip
        clip_dm.setup()
        clips = images_per_second(clip_dm.train_dataloader())
        tv = v2.Compose([
            v2.PILToTensor(),
            v2.RandomResizedCrop(SIZE, scale=(0.8, 1.0), ratio=(0.9, 1.1)),
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.JPEG((60, 100))], p=0.3),
            v2.RandomApply([v2.GaussianBlur(5)], p=0.15),
            v2.ToDtype(torch.float32, scale=True),
            v2.RandomApply([v2.GaussianNoise(sigma=0.03)], p=0.15),
            v2.RandomApply([v2.ColorJitter(0.2, 0.2, 0.2, 0.02)], p=0.3),
            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ])  # fmt: skip
        folder = datasets.ImageFolder(str(tmp), transform=tv)
        baseline = images_per_second(
            DataLoader(folder, batch_size=32, shuffle=True, num_workers=args.workers)
        )
        print(f"images: {args.images} crops of 256 px → {SIZE} px, batch 32, num_workers={args.workers}")
        print(f"torchvision ImageFolder + PIL transforms: {baseline:.1f} images/s")
        print(f"FaceCropDataModule (OpenCV + albumentations): {ours:.1f} images/s")
        print(f"speed-up: {ours / baseline:.2f}x (target >= 1.5x)")
        print(
            f"FaceCropDataModule, clips of {args.clip_len} crops (data.clips=true): {clips:.1f} crops/s, "
            f"{clips / ours:.2f}x the frame loader"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
