"""``dfd.serve`` under load, on loopback: p50/p95 latency and requests/s for images and short videos
with 1 and 8 concurrent clients.

The server is ``python -m dfd.serve`` (LitServe) on 127.0.0.1 with an exported Meso4 of the demo's
shape (128 px crops, MTCNN at 640 px, 8 frames per video); the uploads are a 640x360 JPEG of a
generated real face and a 2 s 640x360 H.264 clip of one. Each client posts its uploads one after
another on its own keep-alive connection. Every run is bounded (``--requests`` per scenario and
``--max-seconds`` per scenario), and the server is stopped at the end.
Baselines, measured side by side in the same run: the server as it was before issue #23
(``threads=null``: torch's default intra-op threads, every core), the goal (p95 under 1 s with 8
concurrent image clients), and 1 client (8 clients' throughput over 1 client's).

    python benchmarks/bench_serve.py [--requests 32] [--max-seconds 120] [dfd.serve overrides]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

from dfd.data.synthetic.mini.media import VideoSpec
from dfd.data.synthetic.mini.trees import Mini
from dfd.inference.export import export_model
from dfd.models.nets.mesonet import Meso4

FINGERPRINT = {"detector": "facenet-pytorch MTCNN", "margin": 0.2, "crop_size": 128, "detect_max_side": 640,
               "select": "confident", "min_score": 0.9, "min_face_size": 40, "frames_per_video": 8, "stride": 0}  # fmt: skip
GOAL_P95 = 1.0  # s, 8 concurrent image clients (issue #23)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(model: Path, run_dir: Path, *overrides: str) -> tuple[subprocess.Popen, str]:
    """``dfd.serve`` in a session of its own on a free loopback port, once ``/health`` answers."""
    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dfd.serve", f"model={model}", "host=127.0.0.1", f"port={port}",
         f"hydra.run.dir={run_dir}", *overrides],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(f"{url}/health", timeout=1).text == "ok":
                return proc, url
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    stop(proc)
    raise SystemExit("the server did not answer /health within 180 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def load(url: str, upload: Path, clients: int, n: int, max_seconds: float) -> dict[str, float]:
    """``n`` posts of ``upload`` by ``clients`` threads (one session each): latencies and rate."""
    data = upload.read_bytes()
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    todo = iter(range(n))
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        with requests.Session() as session:
            while time.monotonic() < deadline:
                with lock:
                    if next(todo, None) is None:
                        return
                start = time.perf_counter()
                r = session.post(f"{url}/predict", files={"file": (upload.name, data)}, timeout=max_seconds)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if r.status_code != 200 or r.json()["status"] != "ok":
                        failures.append(f"{r.status_code} {r.text[:200]}")

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(client) for _ in range(clients)]:
            f.result()
    wall = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{len(failures)} of {len(latencies)} requests failed, e.g. {failures[0]}")
    lat = np.array(latencies)
    return {"n": len(lat), "p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
            "rps": len(lat) / wall}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=32, help="posts per scenario (default 32)")
    parser.add_argument("--max-seconds", type=float, default=120, help="time cap per scenario (s)")
    parser.add_argument("overrides", nargs="*", help="dfd.serve overrides, e.g. max_batch_size=1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mini = Mini(tmp / "raw", VideoSpec(640, 360, 50, 25))
        video = mini.real(tmp / "clip.mp4", 0, seed=0)
        import cv2

        cap = cv2.VideoCapture(str(video))
        ok, frame = cap.read()
        cap.release()
        assert ok, video
        image = tmp / "face.jpg"
        cv2.imwrite(str(image), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
        export_model(Meso4(input_size=128), {"target": "dfd.models.nets.mesonet.Meso4", "kwargs": {"input_size": 128}},
                     tmp / "model", preprocessing=FINGERPRINT)  # fmt: skip
        results = {}
        for label, overrides in (("baseline threads=null", ["threads=null"]), ("dfd", args.overrides)):
            proc, url = start(tmp / "model", tmp / f"run-{len(results)}", *overrides)
            try:
                for kind, upload in (("image", image), ("video", video)):
                    load(url, upload, 1, 4, args.max_seconds)  # warm-up
                    for clients in (1, 8):
                        results[label, kind, clients] = load(
                            url, upload, clients, args.requests, args.max_seconds
                        )
            finally:
                stop(proc)
    print(
        f"dfd.serve on 127.0.0.1, Meso4 128 px, {os.cpu_count()} CPUs; dfd overrides: {args.overrides or 'none'}"
    )
    print(f"{'server':<22} {'upload':<26} {'clients':>7} {'n':>4} {'p50 s':>7} {'p95 s':>7} {'req/s':>7}")
    names = {"image": "image (640x360 JPEG)", "video": "video (2 s 640x360 H.264)"}
    for (label, kind, clients), r in results.items():
        print(
            f"{label:<22} {names[kind]:<26} {clients:>7} {r['n']:>4} {r['p50']:>7.3f} {r['p95']:>7.3f} {r['rps']:>7.2f}"
        )
    p95 = results["dfd", "image", 8]["p95"]
    print(f"ratio p95 (8 image clients) / goal {GOAL_P95:.0f} s: {p95 / GOAL_P95:.2f}")
    for kind in ("image", "video"):
        base, ours = results["baseline threads=null", kind, 8], results["dfd", kind, 8]
        print(f"ratio p95 baseline/dfd ({kind}, 8 clients): {base['p95'] / ours['p95']:.2f}; "
              f"req/s dfd/baseline: {ours['rps'] / base['rps']:.2f}; "
              f"dfd req/s 8 clients / 1 client: {ours['rps'] / results['dfd', kind, 1]['rps']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
