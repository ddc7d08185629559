"""The cost of ``preprocess=deepfakebench`` (32 frames, dlib HOG, 68 landmarks) in videos/s, against
DeepfakeBench's own script's way, side by side in one process on the same real-face videos; and how
far the two outputs are apart (issue 29).

Baseline, written here after DeepfakeBench's ``preprocessing/preprocess.py`` (read for the rule):
OpenCV reads every frame of a video in order; at the 32 indices of
``np.linspace(0, CAP_PROP_FRAME_COUNT - 1, 32, dtype=int)`` dlib's HOG detector (upsampled once)
finds the largest face, its landmarks give five points, skimage's similarity aligns them onto the
template at 1.3× scale, the frame is warped to 256 px and written as PNG; then the face is detected
again on the crop and its landmarks saved (``.npy``), and a frame whose crop shows no face is dropped.
Ours: ``dfd.preprocessing.runner`` with the preset's settings (decord decodes the sampled frames
only; no re-detection on the crop: the landmarks are mapped from the frame). Both use the 68-point
model, one process, one OpenCV thread.

Printed: videos/s of each and the ratio; the IoU of the two crops' frame regions and the distance of
the five alignment points per frame; the frames each keeps; the distance between dfd's landmarks
(mapped from the frame) and the baseline's (re-detected on the crop); the pixel difference of the
two decoders' frames.

python benchmarks/bench_preprocess_deepfakebench.py [--videos 3] [--frames 80] [--mtcnn]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from dfd.data.synthetic.mini.media import Identity, VideoSpec, render, write_video
from dfd.preprocessing.dlib_faces import DlibFaceCropper, deepfakebench_points, hog_detector
from dfd.preprocessing.faces import FaceCropper, similarity_transform, template_points
from dfd.preprocessing.landmarks import dlib68_model_path, landmark_array, load_predictor
from dfd.preprocessing.manifest import read_manifest
from dfd.preprocessing.options import PreprocessOptions
from dfd.preprocessing.runner import run_preprocessing
from dfd.published.recipes import region_iou, window_region
from dfd.raw.records import VideoRecord
from dfd.raw.video import read_frames


def deepfakebench_way(path: Path, out: Path, num_frames: int = 32) -> tuple[dict[int, dict], dict[int, dict]]:
    """One video as DeepfakeBench's script processes it: per kept frame its matrix, five points,
    frame and landmarks (re-detected on the crop); and the frames it dropped because the crop
    showed no face."""
    from skimage.transform import SimilarityTransform

    detector, predictor = hog_detector(), load_predictor(str(dlib68_model_path()))
    template = template_points(256, 1.3).astype(np.float32)
    cap = cv2.VideoCapture(str(path))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    wanted = set(np.linspace(0, count - 1, num_frames, endpoint=True, dtype=int).tolist())
    kept: dict[int, dict] = {}
    dropped: dict[int, dict] = {}  # a face in the frame, none found again on its crop
    for index in range(count):
        ok, bgr = cap.read()
        if not ok:
            break
        if index not in wanted:
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        faces = detector(rgb, 1)
        if not faces:
            continue
        rect = max(faces, key=lambda r: r.width() * r.height())
        shape = predictor(rgb, rect)
        five = deepfakebench_points(np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64))
        matrix = SimilarityTransform.from_estimate(five.astype(np.float32), template).params[:2]
        crop = cv2.cvtColor(cv2.warpAffine(rgb, matrix, (256, 256)), cv2.COLOR_RGB2BGR)
        again = detector(crop, 1)  # on the BGR crop, the first face, as the script does
        if not again:
            dropped[index] = {"matrix": matrix}
            continue
        landmarks = np.array([[p.x, p.y] for p in predictor(crop, again[0]).parts()], dtype=np.float64)
        cv2.imwrite(str(out / f"{path.stem}_{index:03d}.png"), crop)
        np.save(out / f"{path.stem}_{index:03d}.npy", landmarks)
        kept[index] = {"matrix": matrix, "five": five, "landmarks": landmarks, "frame": rgb}
    cap.release()
    return kept, dropped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=3, help="real-face videos (identities 0, 1, 2, ...)")
    parser.add_argument("--frames", type=int, default=80, help="frames per video")
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument(
        "--mtcnn",
        action="store_true",
        help="also the IoU of dfd's default MTCNN crops with the rule (slower)",
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = VideoSpec(args.width, args.height, args.frames, 25)
        records = []
        for k in range(args.videos):
            frames, _ = render(Identity.make(k), spec, seed=100 + k)
            path = write_video(tmp / "raw" / f"{k:03d}.mp4", frames, spec.fps)
            records.append(VideoRecord(path=path, video_id=f"{k:03d}", label=0, method="real", split="test",
                                       group=f"{k:03d}"))  # fmt: skip
        print(f"{args.videos} real-face videos, {args.width}x{args.height}, {args.frames} frames, 32 sampled")
        (tmp / "theirs").mkdir()
        t0 = time.perf_counter()
        theirs = {r.video_id: deepfakebench_way(r.path, tmp / "theirs") for r in records}
        t_theirs = time.perf_counter() - t0
        cropper = DlibFaceCropper()
        options = PreprocessOptions(
            num_frames=32, index_rounding="floor", landmarks="dlib68", reuse_source_boxes=False
        )
        t0 = time.perf_counter()
        run_preprocessing(records, tmp / "ours", cropper, options, progress=False)
        t_ours = time.perf_counter() - t0
        n = len(records)
        print(f"DeepfakeBench's way (OpenCV reads every frame, HOG + landmarks, re-detection on the crop): "
              f"{n / t_theirs:.3f} videos/s ({t_theirs:.1f} s)")  # fmt: skip
        print(f"dfd preprocess=deepfakebench (decord sampled frames, HOG + landmarks, tracks): "
              f"{n / t_ours:.3f} videos/s ({t_ours:.1f} s)")  # fmt: skip
        print(f"ratio: {t_theirs / t_ours:.2f}x")

        rows, _ = read_manifest(tmp / "ours")
        rows = rows[rows["status"] == "ok"]
        points = landmark_array(rows["crop_landmarks"])
        mtcnn = {"box": FaceCropper(), "aligned": FaceCropper(align=True)} if args.mtcnn else {}
        stats: dict[str, list[float]] = {k: [] for k in ("iou", "five", "redetected", "decode", *mtcnn)}
        for k, row in enumerate(rows.itertuples()):
            ref = theirs[row.video_id][0].get(int(row.frame_idx))
            if ref is None:
                continue
            five = deepfakebench_points(np.array(json.loads(row.landmarks)))
            matrix = similarity_transform(five, template_points(256, 1.3))
            rule = window_region(ref["matrix"], 256)
            stats["iou"].append(region_iou(window_region(matrix, 256), rule))
            stats["five"].append(np.linalg.norm(five - ref["five"], axis=1).mean())
            stats["redetected"].append(np.linalg.norm(points[k] - ref["landmarks"], axis=1).mean())
            _, frame = read_frames(next(r.path for r in records if r.video_id == row.video_id),
                                   indices=np.array([int(row.frame_idx)]))  # fmt: skip
            stats["decode"].append(np.abs(frame[0].astype(int) - ref["frame"]).mean())
            for name, other in mtcnn.items():  # dfd's default crops of the same frame, for scale
                face = other.detect(frame)[0]
                if face is not None:
                    region = window_region(other.crop_matrix(frame[0].shape, face), other.crop_size)
                    stats[name].append(region_iou(region, rule))
        kept = sum(len(v[0]) for v in theirs.values())
        dropped = sum(len(v[1]) for v in theirs.values())
        print(f"frames kept: dfd {len(rows)}, DeepfakeBench's way {kept} (+{dropped} dropped: no face found again "
              f"on the crop), of {32 * n} sampled")  # fmt: skip
        iou = np.asarray(stats["iou"])
        print(f"crop region IoU with DeepfakeBench's way, {len(iou)} common frames: mean {iou.mean():.4f}, "
              f"min {iou.min():.4f}")  # fmt: skip
        for name in mtcnn:
            v = np.asarray(stats[name])
            print(
                f"  for scale, dfd's default MTCNN cropper ({name}): mean {v.mean():.3f}, min {v.min():.3f}"
            )
        print(f"five alignment points vs DeepfakeBench's way: mean {np.mean(stats['five']):.3f} px (frame)")
        print(f"68 landmarks, mapped from the frame vs re-detected on the crop: mean {np.mean(stats['redetected']):.2f} "
              f"px, worst frame {np.max(stats['redetected']):.2f} px (crop)")  # fmt: skip
        print(f"decord vs OpenCV frames: mean |difference| {np.mean(stats['decode']):.3f} grey levels")


if __name__ == "__main__":
    main()
