"""Audio-visual clip loading: the in-memory cache (``data.cache=true``) against decoding from disk.

Same synthetic_av clips, same transforms; one pass over the train split reads every clip strip
(PNG) and wav segment and computes its log-mel, a second pass with the cache reuses them.
Prints clips/s of each and the ratio cached/disk. The cache is what keeps the
synthetic_av evidence test within a few CPU minutes.

    python benchmarks/bench_av_loading.py [--videos 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from dfd.core.input_spec import InputSpec
from dfd.data.synthetic.av import SyntheticAVDataModule


def clips_per_second(dm: SyntheticAVDataModule) -> float:
    ds = dm.datasets["train"]
    start = time.perf_counter()
    for i in range(len(ds)):
        ds[i]
    return len(ds) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        disk, cached = [], []
        for _ in range(args.repeats):
            modules = {}
            for cache in (False, True):
                dm = SyntheticAVDataModule(
                    tmp, num_videos=args.videos, input_spec=InputSpec(32), augment=False, cache=cache
                )
                dm.prepare_data()
                dm.setup()
                modules[cache] = dm
            disk.append(clips_per_second(modules[False]))
            clips_per_second(modules[True])  # fills the cache
            cached.append(clips_per_second(modules[True]))
    d, c = max(disk), max(cached)
    print(f"disk decode : {d:8.1f} clips/s (strip PNG + wav + log-mel)")
    print(f"cached      : {c:8.1f} clips/s")
    print(f"ratio cached/disk: {c / d:.2f}")


if __name__ == "__main__":
    main()
