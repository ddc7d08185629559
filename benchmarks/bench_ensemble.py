"""Ensemble inference: members run one by one against batched members and against cached outputs.

The same split of face crops (PNG on disk, as preprocessing writes them) scored by three members
with different nets, input sizes and normalisations (Meso4 at 256 px, MesoInception4 at 256 px,
EfficientNet-B0 via timm at 224 px, random weights):

- baseline, members one by one: each member reads and decodes every crop itself, then scores it
  (what running ``dfd.eval`` once per member costs);
- batched members (``dfd.ensemble``'s first run): every crop is read once and every member scores
  that batch;
- cached (every later ``dfd.ensemble`` run on the same members and split, e.g. another fusion
  rule): the member outputs come from the safetensors cache and only the rule is fitted.

Prints the seconds of each and the ratios against the baseline.

    python benchmarks/bench_ensemble.py [--videos 64] [--frames 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dfd.data.datamodule import FrameDataset
from dfd.data.synthetic.crops import generate_synthetic
from dfd.data.transforms import build_eval_transform
from dfd.ensembles.fusion import StackingFusion
from dfd.ensembles.members import Member, member_outputs, score_members
from dfd.inference.detector import ModelInfo, TorchDetector
from dfd.models.nets.mesonet import Meso4, MesoInception4
from dfd.models.nets.timm_net import TimmNet
from dfd.preprocessing.manifest import read_manifest


def members() -> list[Member]:
    torch.manual_seed(0)
    nets = {
        "meso4": Meso4(),
        "meso_inception": MesoInception4(),
        "efficientnet_b0": TimmNet(model_name="efficientnet_b0"),
    }
    return [
        Member(
            name, Path(name), TorchDetector(net.eval(), ModelInfo(net.input_spec), batch_size=32), f"{k:064d}"
        )
        for k, (name, net) in enumerate(nets.items())
    ]


def one_by_one(group: list[Member], dataset: FrameDataset, batch_size: int) -> dict[str, np.ndarray]:
    out = {}
    for member in group:
        logits = []
        for start in range(0, len(dataset), batch_size):
            crops = [dataset.load_image(i) for i in range(start, min(start + batch_size, len(dataset)))]
            logits.append(member_outputs(member.detector, crops)[0])
        out[member.name] = np.concatenate(logits)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=64)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    group = members()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate_synthetic(
            Path(tmp) / "crops", num_videos=args.videos, frames_per_video=args.frames, crop_size=256
        )
        rows, _ = read_manifest(root)
        dataset = FrameDataset(root, rows, build_eval_transform(group[0].detector.info.input_spec))
        labels = dataset.labels.astype(int)
        print(f"{len(dataset)} crops of 256 px, {len(group)} members ({', '.join(m.name for m in group)}), "
              f"batch {args.batch}, {torch.get_num_threads()} threads")  # fmt: skip

        t0 = time.perf_counter()
        base = one_by_one(group, dataset, args.batch)
        t_base = time.perf_counter() - t0

        cache = Path(tmp) / "cache"
        t0 = time.perf_counter()
        batched = score_members(group, dataset, cache, args.batch)
        t_batched = time.perf_counter() - t0

        t0 = time.perf_counter()
        cached = score_members(group, dataset, cache, args.batch)
        z = np.stack([cached[m.name]["logits"] for m in group], axis=1).astype(np.float64)
        StackingFusion(k=3).fit(z, labels, dataset.video_ids)
        t_cached = time.perf_counter() - t0

    for m in group:
        assert np.allclose(base[m.name], batched[m.name]["logits"], atol=1e-5)
    print(f"members one by one (baseline)      : {t_base:8.2f} s")
    print(f"batched members (crops read once)  : {t_batched:8.2f} s")
    print(f"cached outputs + stacking fit      : {t_cached:8.2f} s")
    print(f"ratio batched/baseline (time)      : {t_batched / t_base:.3f}")
    print(f"ratio cached/baseline (time)       : {t_cached / t_base:.4f}")


if __name__ == "__main__":
    main()
