"""Crops per second from PNG files against their LitData pack, and LitData against WebDataset.

One set of face crops (``--size`` px PNG, as preprocessing writes them), read by a DataLoader
with ``--workers`` workers in a shuffled order, decoded and turned into tensors (no
augmentation: the comparison is of storage, not of transforms). Side by side in one run:

- baseline: ``FrameDataset``, one PNG file per crop (``data.format=files``);
- ``PackedFrameDataset`` over LitData packs holding the same PNG bytes (``dfd.pack``, the default
  ``encoding=source``), over the decoded pixels (``encoding=raw``) and over JPEG q95 re-encodings
  (``encoding=jpeg``), by index, so every dfd
  sampler works: the same shuffled batches, each read in ascending index order (what
  ``data.format=packed`` does), and, to show why, in the sampler's own order;
- WebDataset tar shards of the same PNG bytes, streamed with a 1000-sample shuffle buffer (the
  other common choice; it can only stream).

python benchmarks/bench_packed.py [--crops 3000] [--size 224] [--workers 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import glob
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

from dfd.data.datamodule import FrameDataset, PackedFrameDataset
from dfd.data.packed import pack_split
from dfd.data.samplers import RandomSampler
from dfd.data.synthetic import mini


def make_crops(root: Path, n: int, size: int) -> pd.DataFrame:
    """``n`` real-looking face crops (64 distinct, each pixel-marked), as PNG files and manifest rows."""
    spec = mini.VideoSpec(320, 240, 8)
    base = []
    for i in range(16):
        base += list(
            mini.face_crop_images(i, 4, seed=i, spec=spec, method="FaceSwap" if i % 2 else None, size=size)
        )
    rows = []
    for i in range(n):
        crop = base[i % len(base)].copy()
        crop[0, 0] = i % 255
        rel = f"crops/{i // 32:05d}/{i % 32}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        rows.append({"video_id": f"v{i // 32}", "frame_idx": i % 32, "label": (i // 32) % 2, "method": "m",
                     "split": "train", "crop_path": rel})  # fmt: skip
    return pd.DataFrame(rows)


def identity(image):
    return {"image": image}


def decode_wds(sample: dict) -> dict:
    image = cv2.imdecode(np.frombuffer(sample["png"], np.uint8), cv2.IMREAD_COLOR)
    return {"image": torch.from_numpy(cv2.cvtColor(image, cv2.COLOR_BGR2RGB).transpose(2, 0, 1).copy())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crops", type=int, default=3000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    try:
        rows = make_crops(tmp, args.crops, args.size)
        files = FrameDataset(tmp, rows, identity)
        sizes = {}
        for encoding in ("source", "raw", "jpeg"):
            pack_split(files, tmp / f"packed_{encoding}", encoding, progress=False)
            sizes[encoding] = sum(p.stat().st_size for p in (tmp / f"packed_{encoding}").glob("*.bin"))
        try:  # not one of dfd's dependencies: the comparison row is skipped without it
            import webdataset as wds
        except ImportError:
            wds = None
            print("WebDataset tars: not measured (pip install webdataset)")
        if wds is not None:
            (tmp / "wds").mkdir()
            with wds.ShardWriter(str(tmp / "wds" / "s-%05d.tar"), maxsize=64e6, verbose=0) as writer:
                for i in range(len(files)):
                    writer.write({"__key__": f"{i:07d}", "png": Path(files.paths[i]).read_bytes()})
            tars = sorted(glob.glob(str(tmp / "wds" / "*.tar")))

        class Wrapped(torch.utils.data.Dataset):
            def __init__(self, inner):
                self.inner = inner

            def __len__(self):
                return len(self.inner)

            def __getitem__(self, i):
                return {"image": torch.from_numpy(self.inner.load_image(i).transpose(2, 0, 1).copy())}

        def packed(name: str, sorted_batches: bool) -> DataLoader:
            dataset = Wrapped(PackedFrameDataset(tmp, rows, identity, packed=tmp / name))
            sampler = RandomSampler(np.zeros(len(rows), int), seed=0)
            sampler.sorted_batches = 64 if sorted_batches else 0
            return DataLoader(dataset, batch_size=64, sampler=sampler, num_workers=args.workers)

        loaders = {
            "PNG files (baseline)": lambda: DataLoader(
                Wrapped(files), batch_size=64, shuffle=True, num_workers=args.workers
            ),
            "LitData PNG, batches sorted": lambda: packed("packed_source", True),
            "LitData raw pixels, sorted": lambda: packed("packed_raw", True),
            "LitData JPEG q95, sorted": lambda: packed("packed_jpeg", True),
            "LitData PNG, unsorted": lambda: packed("packed_source", False),
        }
        if wds is not None:
            loaders["WebDataset tars, PNG bytes"] = lambda: DataLoader(
                wds.WebDataset(tars, shardshuffle=False, empty_check=False).shuffle(1000).map(decode_wds),
                batch_size=64, num_workers=args.workers)  # fmt: skip
        best = dict.fromkeys(loaders, 0.0)
        for _ in range(args.rounds):
            for name, make in loaders.items():
                best[name] = max(best[name], images_per_second(make(), epochs=1))
        png_bytes = sum(Path(p).stat().st_size for p in files.paths)
        print(
            f"{args.crops} crops of {args.size} px, batch 64, {args.workers} workers, shuffled, best of {args.rounds}"
        )
        print(f"bytes: PNG files {png_bytes / 2**20:.1f} MB, LitData PNG {sizes['source'] / 2**20:.1f} MB, "
              f"LitData raw {sizes['raw'] / 2**20:.1f} MB, LitData JPEG {sizes['jpeg'] / 2**20:.1f} MB")  # fmt: skip
        base = best["PNG files (baseline)"]
        for name, value in best.items():
            print(f"{name:<30}{value:>10.1f} crops/s{value / base:>8.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
