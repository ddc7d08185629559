"""``dfd.predict`` end to end on 10 s 480p videos: decode, detect, crop, score; where the time goes.

dfd: :class:`~dfd.inference.predictor.Predictor` as ``dfd.predict`` runs it (32 frames sampled by
seeking with decord, MTCNN on keyframes downscaled to 640 px and the faces followed in between by
its last stage, :mod:`dfd.preprocessing.keyframes`; one batch of crops through the net).
Baseline: the usual single-video script of the field's toolkits: read every frame with OpenCV,
keep the same 32, detect at full resolution one frame at a time, crop and score the same way.
Both score with the same exported Meso4 (ONNX Runtime), on the same videos of a real face
(854x480, 25 fps, 250 frames, H.264). Prints videos/s of each, the ratio, dfd's time per stage, and
the boxes' IoU: keyframes + tracking against per-frame detection (``keyframe_every=1``), and each
against the face box the generator rendered.

    python benchmarks/bench_predict.py [--videos 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from dfd.data.synthetic.mini.media import Identity, VideoSpec, render
from dfd.data.synthetic.mini.trees import Mini
from dfd.inference.export import export_model, load_exported
from dfd.inference.predictor import PredictOptions, Predictor
from dfd.models.nets.mesonet import Meso4
from dfd.preprocessing.faces import FaceCropper, box_iou
from dfd.preprocessing.keyframes import detect_video
from dfd.raw.video import read_frame_chunks, read_frames, sample_indices

FINGERPRINT = {"detector": "facenet-pytorch MTCNN", "margin": 0.2, "crop_size": 256, "detect_max_side": 640,
               "select": "confident", "min_score": 0.9, "min_face_size": 40, "frames_per_video": 32, "stride": 0}  # fmt: skip


class TimedIter:
    """Wraps a generator function and adds the wall time of producing its items to ``totals[name]``."""

    def __init__(self, fn, totals: dict[str, float], name: str) -> None:
        self.fn, self.totals, self.name = fn, totals, name

    def __call__(self, *args, **kwargs):
        items = iter(self.fn(*args, **kwargs))
        while True:
            start = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                self.totals[self.name] = self.totals.get(self.name, 0.0) + time.perf_counter() - start
            yield item


class Timed:
    """Wraps a callable and adds its wall time to ``totals[name]``."""

    def __init__(self, fn, totals: dict[str, float], name: str) -> None:
        self.fn, self.totals, self.name = fn, totals, name

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.totals[self.name] = self.totals.get(self.name, 0.0) + time.perf_counter() - start


def naive(path: Path, detector, n: int = 32) -> float:
    """Every frame decoded; full-resolution detection, frame by frame; mean of the crops' scores."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    full = FaceCropper(detect_max_side=10**6, batch_size=1)
    crops = []
    for i in sample_indices(len(frames), n):
        (face,) = full.detect(frames[i][None])
        if face is not None:
            crops.append(full.crop(frames[i], face))
    return float(np.mean(detector.score(crops)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mini = Mini(tmp / "raw", VideoSpec(854, 480, 250, 25))
        videos = [mini.real(tmp / "raw" / f"{i}.mp4", i, seed=i) for i in range(args.videos)]
        net = Meso4()
        export_model(net, {"target": "dfd.models.nets.mesonet.Meso4", "kwargs": {}}, tmp / "model",
                     preprocessing=FINGERPRINT)  # fmt: skip
        detector = load_exported(tmp / "model")
        cropper = FaceCropper()
        predictor = Predictor(detector, cropper, PredictOptions(num_frames=32))
        totals: dict[str, float] = {}
        # time each stage where the predictor calls it
        import dfd.inference.predictor as predictor_module

        predictor_module.read_frame_chunks = TimedIter(
            read_frame_chunks, totals, "decode (decord, 32 sampled frames)"
        )
        cropper.detect_all = Timed(cropper.detect_all, totals, "detect (MTCNN at 640 px, keyframes)")
        cropper.refine = Timed(cropper.refine, totals, "follow (O-Net between keyframes)")
        cropper.crop = Timed(cropper.crop, totals, "crop")
        detector.score = Timed(detector.score, totals, "score (ONNX Runtime)")
        predictor.predict(videos[0])  # warm-up
        totals.clear()
        start = time.perf_counter()
        rows = [predictor.predict(v).row for v in videos]
        t_dfd = time.perf_counter() - start
        stages = dict(totals)
        assert all(r["status"] == "ok" and r["faces_found"] > 0 for r in rows), rows
        naive(videos[0], load_exported(tmp / "model"))  # warm-up
        start = time.perf_counter()
        for v in videos:
            naive(v, load_exported(tmp / "model"))
        t_naive = time.perf_counter() - start
        predictor_module.read_frame_chunks = read_frame_chunks
        tracked = []  # box IoUs of each sampled frame's first face
        for i, v in enumerate(videos):
            indices, frames = read_frames(v, num_frames=32)
            truth = render(Identity.make(i), mini.spec, seed=i)[1][indices]
            ref, got = cropper.detect_all(frames), detect_video(cropper, frames)  # per frame; keyframes
            for r, g, box in zip(ref, got, truth, strict=True):
                if r and g:
                    tracked.append(
                        (box_iou(g[0].box, r[0].box), box_iou(g[0].box, box), box_iou(r[0].box, box))
                    )
        iou = np.asarray(tracked)
    n = len(videos)
    print(f"{n} videos, 854x480, 10 s at 25 fps, 32 frames scored each")
    print(f"baseline (all frames decoded, full-res detection): {n / t_naive:.3f} videos/s")
    print(f"dfd.predict                                     : {n / t_dfd:.3f} videos/s")
    print(f"ratio dfd/baseline: {t_naive / t_dfd:.2f}")
    print("where dfd's time goes:")
    for name, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<36} {seconds / n:6.3f} s/video  ({100 * seconds / t_dfd:4.1f}%)")
    print(f"  {'other (tracks, aggregation, I/O)':<36} {(t_dfd - sum(stages.values())) / n:6.3f} s/video")
    print(
        f"box IoU, {len(iou)} frames: keyframes + tracking vs per-frame detection: mean {iou[:, 0].mean():.3f}, "
        f"min {iou[:, 0].min():.3f}; vs the rendered face box: tracked {iou[:, 1].mean():.3f} "
        f"(min {iou[:, 1].min():.3f}), per-frame {iou[:, 2].mean():.3f} (min {iou[:, 2].min():.3f})"
    )


if __name__ == "__main__":
    main()
