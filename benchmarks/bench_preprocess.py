"""(a) Preprocessing videos/s on a generated FF++ tree (1 original : 4 fakes) against a naive baseline.

Baseline: OpenCV decodes every frame; MTCNN runs at full resolution on each sampled frame, one
frame at a time, for every video. Ours: ``dfd.preprocessing.runner`` (decord decodes only the
sampled frames, MTCNN batched on keyframes downscaled to 640 px and the faces followed in between
(``preprocess.cropper.keyframe_every``, :mod:`dfd.preprocessing.keyframes`), fakes reuse their
original's boxes, PNGs encoded on two writer threads). Both run in one process with one torch
thread, side by side; boxes are compared (IoU).

python benchmarks/bench_preprocess.py [--pairs 2] [--frames 64] [--sampled 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from dfd.data.synthetic import mini
from dfd.preprocessing.faces import FaceCropper, box_iou
from dfd.preprocessing.manifest import read_manifest
from dfd.preprocessing.options import PreprocessOptions
from dfd.preprocessing.runner import run_preprocessing
from dfd.raw.layouts.ffpp import parse_ffpp
from dfd.raw.video import sample_indices

METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")


def naive(records, cropper: FaceCropper, n_sampled: int, out: Path) -> dict[str, dict[int, tuple]]:
    """Decode every frame with OpenCV, detect at full resolution one frame at a time, crop, save."""
    full_res = FaceCropper(
        margin=cropper.margin,
        crop_size=cropper.crop_size,
        detect_max_side=10**6,
        batch_size=1,  # dfd's face choice
    )
    boxes: dict[str, dict[int, tuple]] = {}
    for r in records:
        cap = cv2.VideoCapture(str(r.path))
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
        cap.release()
        keep = set(sample_indices(len(frames), n_sampled).tolist())
        boxes[r.video_id] = {}
        for i, frame in enumerate(frames):
            if i not in keep:
                continue
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            (face,) = full_res.detect(rgb)
            if face is None:
                continue
            crop = full_res.crop(rgb, face)
            cv2.imwrite(
                str(out / f"{r.video_id.replace('/', '_')}_{i}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
            )
            boxes[r.video_id][i] = face.box
    return boxes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--pairs", type=int, default=2, help="identity pairs in the train split: 2 originals and 8 fakes each"
    )
    parser.add_argument("--frames", type=int, default=64, help="frames per video")
    parser.add_argument("--sampled", type=int, default=16, help="frames sampled per video")
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = mini.VideoSpec(args.width, args.height, args.frames, 25)
        mini.make_ffpp(
            tmp / "raw", n_pairs=args.pairs + 2, methods=METHODS, split_pairs=(args.pairs, 1, 1), spec=spec
        )
        records = [r for r in parse_ffpp(tmp / "raw", methods=METHODS) if r.split == "train"]
        n_real = sum(r.label == 0 for r in records)
        print(f"tree: {len(records)} videos ({n_real} originals : {len(records) - n_real} fakes), "
              f"{args.width}x{args.height}, {args.frames} frames, {args.sampled} sampled")  # fmt: skip
        cropper = FaceCropper(crop_size=256)
        (tmp / "naive").mkdir()
        t0 = time.perf_counter()
        base_boxes = naive(records, cropper, args.sampled, tmp / "naive")
        t_naive = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_preprocessing(
            records, tmp / "ours", cropper, PreprocessOptions(num_frames=args.sampled), progress=False
        )
        t_ours = time.perf_counter() - t0
        rows, _ = read_manifest(tmp / "ours")
        ious: dict[int, list[float]] = {0: [], 1: []}
        for row in rows[rows["status"] == "ok"].itertuples():
            ref = base_boxes.get(row.video_id, {}).get(int(row.frame_idx))
            if ref is not None:
                ious[int(row.label)].append(box_iou((row.x1, row.y1, row.x2, row.y2), ref))
        n = len(records)
        print(
            f"naive (OpenCV all frames + full-res MTCNN per frame): {n / t_naive:.3f} videos/s ({t_naive:.1f} s)"
        )
        print(
            f"dfd.preprocess (decord sampled + 640 px MTCNN on keyframes, tracked between + box reuse): "
            f"{n / t_ours:.3f} videos/s ({t_ours:.1f} s)"
        )
        print(f"speed-up: {t_naive / t_ours:.2f}x (target >= 6x)")
        # originals: our keyframe detection at 640 px and tracking against full-resolution detection;
        # fakes: the original's reused box against the baseline's detection on the fake itself
        for label, name in ((0, "originals (keyframes + tracking)"), (1, "fakes (reused boxes)")):
            v = np.asarray(ious[label])
            print(f"box IoU vs baseline, {name}, {len(v)} frames: mean {v.mean():.3f}, median {np.median(v):.3f}, "
                  f"min {v.min():.3f}, share >= 0.9: {(v >= 0.9).mean():.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
