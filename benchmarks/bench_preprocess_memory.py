"""(c) Peak RSS of preprocessing one video at 1× and 4× the length, each in a fresh subprocess.

decord decodes only the sampled frames, so memory should not grow with video length.
Target: the two peaks within 10% of each other.

python benchmarks/bench_preprocess_memory.py [--frames 75]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import resource, sys, torch
from pathlib import Path
torch.set_num_threads(1)
from dfd.preprocessing.faces import FaceCropper
from dfd.raw.records import VideoRecord
from dfd.preprocessing.options import PreprocessOptions
from dfd.preprocessing.runner import process_video
video, out = Path(sys.argv[1]), Path(sys.argv[2])
record = VideoRecord(path=video, video_id="v", label=0, method="original", split="train", group="v")
rows = process_video(record, out, FaceCropper(crop_size=256), PreprocessOptions(num_frames=32))
assert rows[0]["status"] == "ok", rows[0]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_mb(video: Path, out: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(video), str(out)], capture_output=True, text=True, check=True
    )
    return int(result.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    from dfd.data.synthetic import mini

    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=75, help="length of the 1x video")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        m = mini.Mini(tmp, mini.VideoSpec(854, 480, args.frames, 25))
        short = m.real(tmp / "short.mp4", 0, seed=1)
        m.spec = mini.VideoSpec(854, 480, 4 * args.frames, 25)
        long = m.real(tmp / "long.mp4", 0, seed=1)
        one = peak_rss_mb(short, tmp / "out1")
        four = peak_rss_mb(long, tmp / "out4")
        print(
            f"854x480, 32 sampled frames: 1x ({args.frames} frames) peak RSS {one:.0f} MiB, 4x ({4 * args.frames} frames) {four:.0f} MiB"
        )
        print(f"ratio 4x/1x: {four / one:.3f} (target within 10%: <= 1.10)")


if __name__ == "__main__":
    main()
