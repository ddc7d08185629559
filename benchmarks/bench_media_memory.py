"""Peak RSS growth of dfd.serve's upload path and dfd.predict for crafted media (issue 23, item 3).

Each case runs in a fresh subprocess: a predictor is built and warmed up on a small photo and
video, the peak RSS is reset (``/proc/self/clear_refs``), then the server's path for one upload
(:meth:`DetectorAPI.decode_request`: sniff, save, header checks; then :meth:`DetectorAPI.predict`)
or ``Predictor.predict`` (dfd.predict) runs, and the growth of the peak over the warm RSS is
reported. The net is a constant stub: memory goes to decoding, not to scoring a few crops.

``--server <exported model>`` measures the real ``dfd.serve`` instead: started on 127.0.0.1 for each
checkout, warmed up, then each crafted file is posted by ``--clients`` concurrent clients, and the
growth is the sum over the server's processes of their peak RSS above their RSS at the reset.

Baseline, measured side by side: the same code with ``max_pixels=None`` (no budget: images and
frames decoded whole, a video's sampled frames all at once), and, with ``--against <checkout>``,
another checkout's code (e.g. main before the budget). Goal: under 400 MB growth per case.

PYTHONPATH=. python benchmarks/bench_media_memory.py [--against /path/to/main] [--server <model> --clients 4]
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
from dfd.core.input_spec import InputSpec
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


def _session(leader: int) -> list[int]:
    """The processes of the session ``leader`` started (the server and its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == leader:
                    pids.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                pass
    return pids


def _kb(pid: int, key: str) -> int:
    return int(Path(f"/proc/{pid}/status").read_text().split(key + ":")[1].split()[0])


def measure_server(
    code: Path, model: Path, media: Path, warm: tuple[Path, Path], clients: int, run_dir: Path
) -> dict:
    """Peak RSS growth of a real ``dfd.serve`` of ``code`` while ``clients`` post ``media`` at once."""
    import signal
    import socket
    import time
    from concurrent.futures import ThreadPoolExecutor

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dfd.serve", f"model={model}", f"port={port}", f"hydra.run.dir={run_dir}",
         "max_upload_mb=50"], cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def post(path: Path) -> requests.Response:
        with path.open("rb") as f:
            return requests.post(f"{url}/predict", files={"file": (path.name, f)}, timeout=600)

    try:
        for _ in range(240):
            try:
                if requests.get(f"{url}/health", timeout=1).text == "ok":
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        for path in warm:
            post(path)
        pids = _session(proc.pid)
        base = {}
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            base[pid] = _kb(pid, "VmRSS")
        with ThreadPoolExecutor(clients) as pool:
            answers = list(pool.map(post, [media] * clients))
        growth = sum(max(0, _kb(pid, "VmHWM") - base[pid]) for pid in pids if Path(f"/proc/{pid}").exists())
        first = answers[0]
        detail = first.json().get("detail") or first.json().get("status")
        return {
            "growth_mb": growth / 1024,
            "answer": [",".join(str(a.status_code) for a in answers), str(detail)],
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the session this function started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    from PIL import Image
    from skimage import data

    from dfd.data.synthetic import mini
    from tests.bad_media import flat_png, flat_video

    parser = argparse.ArgumentParser()
    parser.add_argument("--against", type=Path, help="another checkout to measure side by side (e.g. main)")
    parser.add_argument("--server", type=Path, help="an exported model: measure the real dfd.serve")
    parser.add_argument("--clients", type=int, default=1, help="concurrent uploads of each file (--server)")
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
            (
                "serve",
                "4096x3072 H.264 MP4, 3 frames (at the budget)",
                flat_video(tmp / "at.mp4", 4096, 3072, 3),
            ),
            ("serve", "3840x2160 H.264 MP4, 40 frames (4K)", flat_video(tmp / "uhd.mp4", 3840, 2160, 40)),
            ("serve", "8192x4320 H.264 MP4, 3 frames", flat_video(tmp / "wide.mp4", 8192, 4320, 3)),
            ("serve", "9400x9400 1-bit PNG", flat_png(tmp / "big.png", 9400, 9400)),
            ("predict", "12000x12000 1-bit PNG", flat_png(tmp / "huge.png", 12000, 12000)),
        ]
        runs = [("budget (default)", here, "default"), ("max_pixels=None", here, "none")]
        if args.server:  # the real server takes its budget from its config: no max_pixels=None run
            runs = runs[:1]
            cases = [c for c in cases if c[0] == "serve"]
        if args.against:
            runs.append((f"{args.against}", args.against.resolve(), "default"))
        print(
            "| path | media (KB) | "
            + " | ".join(f"{name}: growth MB, answer" for name, _, _ in runs)
            + " | ratio |"
        )
        print("|---|---|" + "---|" * (len(runs) + 1))
        for mode, label, media in cases:
            got = [
                measure_server(code, args.server.resolve(), media, warm, args.clients, tmp / "run")
                if args.server
                else measure(code, mode, media, warm, budget)
                for _, code, budget in runs
            ]
            cells = [f"{g['growth_mb']:.0f}, {g['answer'][0]} {g['answer'][1][:60]}" for g in got]
            ratio = got[0]["growth_mb"] / max(1.0, got[-1]["growth_mb"])
            print(
                f"| {mode} | {label} ({media.stat().st_size / 1024:.1f}) | "
                + " | ".join(cells)
                + f" | {ratio:.3f} |"
            )


if __name__ == "__main__":
    main()
