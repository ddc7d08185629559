"""Images per second of self-blended training data against plain crops (issue 25's goal: >= 0.5x).

One set of real face crops (``--size`` px PNG, as preprocessing writes them, with dlib's 68
landmarks beside them), read by DataLoaders of ``--workers`` workers in a shuffled order with the
default training augmentation, side by side in one run:

- baseline: the plain crops (``FrameDataset``, ``data.fakes=dataset``), one image per crop read;
- ``data.fakes=self_blended``: each crop read once and given its self-blend (:class:`BlendedPairs`),
  so two images per read, the second blended in the worker;
- ``data.fakes=blended`` (Face X-ray): the blend's source is another crop, read from its file too.

Images count reals and blends alike: what the net trains on per second.

python benchmarks/bench_self_blend.py [--crops 512] [--size 256] [--workers 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dataloader import images_per_second  # noqa: E402

from dfd.core.input_spec import InputSpec
from dfd.data.datamodule import FrameDataset
from dfd.data.samplers import RandomSampler
from dfd.data.self_blended import BlendedPairs, Blender, flatten_pairs
from dfd.data.synthetic import mini
from dfd.data.transforms import build_train_transform
from dfd.preprocessing.landmarks import Landmarker, landmark_json


def make_crops(root: Path, n: int, size: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` real face crops (64 distinct renderings, each pixel-marked) as PNG files, their rows and
    their 68 landmarks (crop px)."""
    spec = mini.VideoSpec(320, 240, 8)
    landmarker = Landmarker("dlib68")
    inner = (size * 0.1 / 1.2, size * 0.1 / 1.2, size * 1.1 / 1.2, size * 1.1 / 1.2)  # the face box in a crop
    base = []
    for i in range(8):
        for crop in mini.face_crop_images(i, 8, seed=i, spec=spec, size=size):
            base.append((crop, landmarker(crop, inner)))
    rows, points = [], []
    for i in range(n):
        crop, lm = base[i % len(base)]
        crop = crop.copy()
        crop[0, 0] = i % 255
        rel = f"crops/{i // 32:05d}/{i % 32}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        rows.append({"video_id": f"v{i // 32}", "frame_idx": i % 32, "label": 0, "method": "", "split": "train",
                     "crop_path": rel, "crop_landmarks": landmark_json(lm)})  # fmt: skip
        points.append(lm)
    return pd.DataFrame(rows), np.asarray(points, np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crops", type=int, default=512)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = InputSpec(args.size)
    tmp = Path(tempfile.mkdtemp())
    try:
        rows, points = make_crops(tmp, args.crops, args.size)

        def plain() -> DataLoader:
            dataset = FrameDataset(tmp, rows, build_train_transform(spec))
            sampler = RandomSampler(dataset.labels.astype(np.int64), seed=0)
            return DataLoader(dataset, batch_size=args.batch, sampler=sampler, num_workers=args.workers)

        def pairs(mode: str) -> DataLoader:
            base = FrameDataset(tmp, rows, None)
            blender = Blender(base.load_image, points, base.video_idx, mode)
            dataset = BlendedPairs(base, blender, build_train_transform(spec), mode)
            dataset.augment_seed = 0
            sampler = RandomSampler(dataset.labels.astype(np.int64), seed=0)
            sampler.tag_epoch = True
            return DataLoader(dataset, batch_size=args.batch // 2, sampler=sampler, num_workers=args.workers,
                              collate_fn=flatten_pairs)  # fmt: skip

        loaders = {
            "plain crops (baseline)": plain,
            "self_blended (SBI)": lambda: pairs("self_blended"),
            "blended (Face X-ray)": lambda: pairs("blended"),
        }
        best = dict.fromkeys(loaders, 0.0)
        for _ in range(args.rounds):
            for name, make in loaders.items():
                best[name] = max(best[name], images_per_second(make(), epochs=1))
        print(f"{args.crops} real crops of {args.size} px (PNG, dlib 68 landmarks), batch {args.batch}, "
              f"{args.workers} workers, default augmentation, best of {args.rounds}")  # fmt: skip
        base = best["plain crops (baseline)"]
        for name, value in best.items():
            print(f"{name:<26}{value:>10.1f} images/s{value / base:>8.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
