"""Ensemble inference: members run one by one against batched members and against cached outputs.

The same split of face crops (PNG on disk, as preprocessing writes them) scored by three members
with different nets, input sizes and normalisations (Meso4 at 256 px, MesoInception4 at 256 px,
EfficientNet-B0 via timm at 224 px, random weights):

- baseline, members one by one: each member reads and decodes every crop itself, then scores it
  (what running ``dfd.eval`` once per member costs);
- batched members (``dfd.ensemble``'s first run): every crop is read once and every member scores
  that batch;
- cached (every later ``dfd.ensemble`` run on the same members and split, e.g. another fusion
  rule): the member outputs come from the safetensors cache and only the rule (stacking, k = 3
  grouped folds) is fitted.

And what ``dfd.predict`` and ``dfd.serve`` run: the members exported (``model.onnx``) into one
ensemble folder with that stacking rule,

- baseline, exported members one by one: each member's folder loaded (checksums, ONNX Runtime
  session), reading and decoding every crop itself, then scoring it (``dfd.predict`` once per
  member);
- the exported ensemble: the folder loaded (every checksum, every member's session), each crop
  read once, scored by every member and fused, with the members' agreement
  (``score_with_agreement``, what ``dfd.predict`` calls).

Each pair is run side by side, ``--rounds`` times alternating which goes first; prints the
seconds of each (median of the rounds) and the range of the ratios over the rounds.

    python benchmarks/bench_ensemble.py [--videos 64] [--frames 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dfd.data.datamodule import FrameDataset
from dfd.data.synthetic.crops import generate_synthetic
from dfd.data.transforms import build_eval_transform
from dfd.ensembles.detector import MEMBERS_DIR, load_ensemble, write_ensemble_folder
from dfd.ensembles.fusion import StackingFusion
from dfd.ensembles.members import Member, member_outputs, score_members
from dfd.inference.detector import ModelInfo, TorchDetector
from dfd.inference.export import export_model, load_exported
from dfd.models.nets.mesonet import Meso4, MesoInception4
from dfd.models.nets.timm_net import TimmNet
from dfd.preprocessing.manifest import read_manifest

#: each member's net and what rebuilds it (random weights: the cost, not the accuracy, is measured)
NETS = {
    "meso4": (Meso4, {}),
    "meso_inception": (MesoInception4, {}),
    "efficientnet_b0": (TimmNet, {"model_name": "efficientnet_b0"}),
}


def members() -> list[Member]:
    torch.manual_seed(0)
    nets = {name: cls(**kwargs) for name, (cls, kwargs) in NETS.items()}
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


def export_ensemble(group: list[Member], fusion: StackingFusion, folder: Path) -> list[Path]:
    """The members exported (ONNX, safetensors) into one ensemble folder; their folders."""
    dirs = []
    for k, member in enumerate(group):
        cls, kwargs = NETS[member.name]
        target = f"{cls.__module__}.{cls.__name__}"
        out = folder / MEMBERS_DIR / f"{k:02d}_{member.name}"
        dirs.append(
            export_model(member.detector.net, {"target": target, "kwargs": kwargs}, out, name=member.name)
        )
    write_ensemble_folder(folder, [(m.name, d) for m, d in zip(group, dirs, strict=True)], fusion, None,
                          None, {}, [1 / len(group)] * len(group), name="bench ensemble")  # fmt: skip
    return dirs


def exported_one_by_one(dirs: list[Path], dataset: FrameDataset, batch_size: int) -> tuple[np.ndarray, float]:
    """Each exported member loaded and run over every crop, reading the crops itself; the
    probabilities ``float[N, M]`` and the seconds spent loading."""
    out, load = [], 0.0
    for folder in dirs:
        t0 = time.perf_counter()
        detector = load_exported(folder, "onnx", batch_size)
        load += time.perf_counter() - t0
        probs = []
        for start in range(0, len(dataset), batch_size):
            crops = [dataset.load_image(i) for i in range(start, min(start + batch_size, len(dataset)))]
            probs.append(detector.score(crops))
        out.append(np.concatenate(probs))
    return np.stack(out, axis=1), load


def exported_ensemble(folder: Path, dataset: FrameDataset, batch_size: int) -> tuple[np.ndarray, float]:
    """The exported ensemble loaded and run over every crop (each read once), with agreement;
    the fused probabilities and the seconds spent loading."""
    t0 = time.perf_counter()
    ensemble = load_ensemble(folder, "onnx", batch_size)
    load = time.perf_counter() - t0
    probs = []
    for start in range(0, len(dataset), batch_size):
        crops = [dataset.load_image(i) for i in range(start, min(start + batch_size, len(dataset)))]
        probs.append(ensemble.score_with_agreement(crops, 0.5)[0])
    return np.concatenate(probs), load


def side_by_side(
    base: Callable[[], object], other: Callable[[], object], rounds: int
) -> tuple[list[float], list[float]]:
    """Seconds of ``base`` and ``other`` over ``rounds`` rounds, alternating which runs first."""
    times: tuple[list[float], list[float]] = ([], [])
    for r in range(rounds):
        order = (0, 1) if r % 2 == 0 else (1, 0)
        for k in order:
            t0 = time.perf_counter()
            (base, other)[k]()
            times[k].append(time.perf_counter() - t0)
    return times


def row(label: str, seconds: list[float], base: list[float] | None = None) -> str:
    text = f"{label:<44}: {statistics.median(seconds):8.2f} s"
    if base is not None:
        ratios = [s / b for s, b in zip(seconds, base, strict=True)]
        text += f"   ratio {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=64)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=None, help="alternated rounds (2; --full: 3)")
    parser.add_argument(
        "--full", action="store_true", help="the sizes docs/performance.md reports (make bench-full)"
    )
    args = parser.parse_args()
    args.rounds = args.rounds or (3 if args.full else 2)
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

        results: dict[str, object] = {}
        t_base, t_batched = side_by_side(
            lambda: results.__setitem__("base", one_by_one(group, dataset, args.batch)),
            lambda: results.__setitem__("batched", score_members(group, dataset, None, args.batch)),
            args.rounds,
        )
        base, batched = results["base"], results["batched"]
        for m in group:
            assert np.allclose(base[m.name], batched[m.name]["logits"], atol=1e-5)  # type: ignore[index]

        cache = Path(tmp) / "cache"
        score_members(group, dataset, cache, args.batch)  # fills the cache (the first run, timed above)
        t_cached = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            cached = score_members(group, dataset, cache, args.batch)
            z = np.stack([cached[m.name]["logits"] for m in group], axis=1).astype(np.float64)
            fusion = StackingFusion(k=3)
            fusion.fit(z, labels, dataset.video_ids)
            t_cached.append(time.perf_counter() - t0)

        folder = Path(tmp) / "ensemble"
        dirs = export_ensemble(group, fusion, folder)
        t_members, t_exported = side_by_side(
            lambda: results.__setitem__("members", exported_one_by_one(dirs, dataset, args.batch)),
            lambda: results.__setitem__("exported", exported_ensemble(folder, dataset, args.batch)),
            args.rounds,
        )
        (probs, load_members), (exported, load_folder) = results["members"], results["exported"]  # type: ignore[misc]
        fused = fusion.fuse(np.log(probs) - np.log1p(-probs))
        assert np.allclose(1 / (1 + np.exp(-fused)), exported, atol=1e-4)

    print(f"{args.rounds} rounds, side by side in this process, alternating which runs first")
    print(row("members one by one (baseline)", t_base))
    print(row("batched members (crops read once)", t_batched, t_base))
    print(row("cached outputs + stacking fit (k=3)", t_cached, t_base))
    print(row("exported members one by one (ONNX, baseline)", t_members))
    print(row("exported ensemble (ONNX members, fused)", t_exported, t_members))
    print(
        f"  of which loading (last round): members one by one {load_members:.2f} s, ensemble {load_folder:.2f} s"
    )


if __name__ == "__main__":
    main()
