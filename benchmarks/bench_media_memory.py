"""Peak RSS growth of dfd.serve's upload path and dfd.predict for crafted media (issue 23, item 3).

Each case runs in a fresh subprocess: a predictor is built and warmed up on a small photo and
video, the peak RSS is reset (``/proc/self/clear_refs``), then the server's path for one upload
(:meth:`DetectorAPI.decode_request`: sniff, save, header checks; then :meth:`DetectorAPI.predict`)
or ``Predictor.predict`` (dfd.predict) runs, and the growth of the peak over the warm RSS is
reported. The net is a constant stub: memory goes to decoding, not to scoring a few crops.

Baseline, measured side by side: the same code with ``max_pixels=None`` (no budget: images and
frames decoded whole, a video's sampled frames all at once), and, with ``--against <checkout>``,
another checkout's code (e.g. main before the budget). Goal: under 400 MB growth per case.

PYTHONPATH=. python benchmarks/bench_media_memory.py [--against /path/to/main]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import inspect, json, sys, numpy as np, torch
from pathlib import Path
torch.set_num_threads(1)
from dfd.data.transforms import InputSpec
from dfd.inference.detector import Detector, ModelInfo
from dfd.inference.server import DetectorAPI

class Constant(Detector):
    def logits(self, images):
        return np.zeros((len(images), 1), np.float32)

FP = {"detector": "facenet-pytorch MTCNN", "margin": 0.2, "crop_size": 224, "frames_per_video": 32}
mode, media, warm_image, warm_video, budget = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
options = {"device": "cpu"}
if budget != "default":
    options["max_pixels"] = None if budget == "none" else int(budget)
api = DetectorAPI("unused", options=options, loader=lambda *a, **k: Constant(ModelInfo(InputSpec(224), preprocessing=FP)))
api.setup("cpu")

class Upload:
    def __init__(self, path):
        self.file, self.filename = open(path, "rb"), Path(path).name

def serve(path):
    x = api.decode_request({"file": Upload(path)})
    if not isinstance(x, tuple):
        return x.status_code, x.detail
    out = api.predict(x)
    return (out.status_code, out.detail) if hasattr(out, "status_code") else (200, out["status"])

run = serve if mode == "serve" else (lambda p: ("row", api.predictor.predict(p).row["status"]))
for warm in (warm_image, warm_video):
    run(warm)
status = lambda key: int(open("/proc/self/status").read().split(key + ":")[1].split()[0]) // 1024
Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak RSS, to the current RSS
base = status("VmRSS")
answer = run(media)
print(json.dumps({"growth_mb": status("VmHWM") - base, "answer": [answer[0], str(answer[1])[:90]]}))
"""


def measure(code: Path, mode: str, media: Path, warm: tuple[Path, Path], budget: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(media), str(warm[0]), str(warm[1]), budget],
        capture_output=True, text=True, env=env, cwd=code,
    )  # fmt: skip
    if result.returncode != 0:
        return {"growth_mb": float("nan"), "answer": ["crash", result.stderr.strip().splitlines()[-1][:90]]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    from PIL import Image
    from skimage import data

    from dfd.data.synthetic import mini
    from tests.bad_media import flat_png, flat_video

    parser = argparse.ArgumentParser()
    parser.add_argument("--against", type=Path, help="another checkout to measure side by side (e.g. main)")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        Image.fromarray(data.astronaut()).save(tmp / "warm.jpg")
        warm = (
            tmp / "warm.jpg",
            mini.Mini(tmp, mini.VideoSpec(192, 144, 8, 8)).real(tmp / "warm.mp4", 0, seed=0),
        )
        cases = [
            ("serve", "4096x4096 H.264 MP4, 3 frames", flat_video(tmp / "square.mp4", 4096, 4096, 3)),
            ("serve", "8192x4320 H.264 MP4, 3 frames", flat_video(tmp / "wide.mp4", 8192, 4320, 3)),
            ("serve", "9400x9400 1-bit PNG", flat_png(tmp / "big.png", 9400, 9400)),
            ("predict", "12000x12000 1-bit PNG", flat_png(tmp / "huge.png", 12000, 12000)),
        ]
        runs = [("budget (default)", here, "default"), ("max_pixels=None", here, "none")]
        if args.against:
            runs.append((f"{args.against}", args.against.resolve(), "default"))
        print(
            "| path | media (KB) | "
            + " | ".join(f"{name}: growth MB, answer" for name, _, _ in runs)
            + " | ratio |"
        )
        print("|---|---|" + "---|" * (len(runs) + 1))
        for mode, label, media in cases:
            got = [measure(code, mode, media, warm, budget) for _, code, budget in runs]
            cells = [f"{g['growth_mb']:.0f}, {g['answer'][0]} {g['answer'][1][:60]}" for g in got]
            ratio = got[0]["growth_mb"] / max(1.0, got[-1]["growth_mb"])
            print(
                f"| {mode} | {label} ({media.stat().st_size / 1024:.1f}) | "
                + " | ".join(cells)
                + f" | {ratio:.3f} |"
            )


if __name__ == "__main__":
    main()
