"""(d) Crop data at DFDC scale: the in-tree ``FaceCropDataModule`` against the frozen loading path of
commit 3180967 (``legacy_data.py``: ``manifest.csv`` through pandas, one Python ``str`` per crop path
and video id), on generated manifests of 100k, 1M and 4M rows.

Each manifest has the real columns and DFDC's shape: ``dfdc_train_part_<p>/<id>.mp4`` videos of 32
crops, about 1 real to 5 fakes, ``group`` the original video, train/val/test 80/10/10 by group, ~0.5%
of videos a single ``no_face`` row. Every ``crop_path`` is unique, ``crops/<video_id>/<frame>.png``,
and opens a real 64 px PNG: each video's folder is a symlink to one of 8 folders of 32 crops.
Written as ``manifest.csv`` (read by the baseline), ``manifest.parquet`` and ``manifest.json``.

Per size and side, in a fresh subprocess each (so one side's memory never shows in the other's):
manifest load + ``prepare_data()`` + ``setup()`` in seconds; main-process RSS after it; private
memory (USS) growth of each of the 2 training DataLoader workers over a shuffled pass of
``--samples`` crops (copy-on-write of touched reference counts); PNG images/s over that pass.
Targets: setup >= 5x faster, main RSS <= 1/3, worker growth < 20 MB per pass at 4M rows, packed
crops >= 1.5x the PNG images/s (each dfd.pack encoding: the crop files' own bytes, the decoded pixels,
and JPEG q95).

python benchmarks/bench_data_scale.py [--full] [--sizes 100000,1000000,4000000] [--samples 200000] [--repeats 1]

The default (``make bench``) is 20k and 100k rows and 20,000-sample passes (a few minutes);
``--full`` (``make bench-full``) is 100k, 1M and 4M rows with 200,000-sample passes (about an hour),
where the targets are read off. The 4M-row baseline holds several GB in its main process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

SIZE = 64  # px, crops and model input
FRAMES = 32  # crops per video
FRAME_IDX = np.linspace(0, 299, FRAMES).round().astype(int)  # evenly spaced over a 10 s, 30 fps video
TEMPLATES = 8  # folders of 32 real crops (half real, half fake) that every video's folder links to
FAKE_SHARE = 5 / 6  # DFDC: about 1 real to 5 fakes
UNUSABLE_SHARE = 0.005  # videos with one no_face row instead of crops
PARTS = 50
MARK = "BENCH_JSON "
SIDES = ("legacy", "current")
#: per-run numbers that ``--repeats`` reports the median of
NUMBERS = ("setup_s", "rss_imports_mb", "rss_setup_mb", "peak_setup_mb", "worker_uss_first_mb",
           "worker_growth_mb", "images_per_s")  # fmt: skip

#: ``manifest.csv`` columns at commit 3180967 (``dfd.preprocessing.manifest.COLUMNS``), in order.
COLUMNS = ["video_id", "frame_idx", "track", "label", "label_video", "label_audio", "method", "split",
           "group", "compression", "crop_path", "x1", "y1", "x2", "y2", "score", "landmarks",
           "audio_path", "source_path", "fps", "fake_periods", "status", "reason"]  # fmt: skip
TEXT = ["compression", "crop_path", "landmarks", "audio_path", "fake_periods", "reason"]


# ----------------------------------------------------------------------------- data


def make_pool(pool: Path) -> None:
    """``TEMPLATES`` folders of 32 face crops of ``SIZE`` px named like the cropper's (``00009.png``)."""
    import cv2

    from dfd.data.synthetic import mini

    spec = mini.VideoSpec(320, 240, FRAMES)
    for t in range(TEMPLATES):
        fake = t >= TEMPLATES // 2
        crops = mini.face_crop_images(
            t, FRAMES, seed=t, spec=spec, method="FaceSwap" if fake else None, size=SIZE
        )
        folder = pool / f"t{t}"
        folder.mkdir(parents=True, exist_ok=True)
        for idx, crop in zip(FRAME_IDX, crops, strict=True):
            cv2.imwrite(str(folder / f"{idx:05d}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))


def manifest_frame(n_rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``n_rows`` manifest rows shaped like DFDC's, built with numpy; also each usable video's id and
    the template folder its crops link to."""
    rng = np.random.default_rng(seed)
    n_videos = int(1.1 * n_rows / FRAMES) + 10  # enough for n_rows rows; the surplus is cut below
    usable = rng.random(n_videos) >= UNUSABLE_SHARE
    counts = np.where(usable, FRAMES, 1)
    ends = np.cumsum(counts)
    n_videos = int(np.searchsorted(ends, n_rows)) + 1  # the last video may be cut short
    usable, counts, ends = usable[:n_videos], counts[:n_videos], ends[:n_videos]
    fake = rng.random(n_videos) < FAKE_SHARE
    fake[0] = False
    reals = np.flatnonzero(~fake)
    original = np.arange(n_videos)
    original[fake] = rng.choice(reals, int(fake.sum()))
    part = rng.integers(0, PARTS, n_videos)[original]  # a fake sits in its original's part
    split_u = rng.random(n_videos)[original]  # whole groups per split, so nothing leaks
    split = np.where(split_u < 0.8, "train", np.where(split_u < 0.9, "val", "test")).astype(object)
    letters = rng.integers(ord("a"), ord("z") + 1, (n_videos, 10), dtype=np.uint8)
    names = letters.view("S10").ravel().astype(str)
    video_ids = np.char.add(np.char.add(np.char.add("dfdc_train_part_", part.astype(str)), "/"), names)
    video_ids = np.char.add(video_ids, ".mp4").astype(object)

    video = np.repeat(np.arange(n_videos), counts)[:n_rows]
    pos = np.arange(n_rows) - (ends - counts)[video]
    ok = usable[video]
    frame_idx = np.where(ok, FRAME_IDX[np.minimum(pos, FRAMES - 1)], -1)
    suffixes = np.array([f"/{i:05d}.png" for i in FRAME_IDX], dtype=object)
    crop_path = np.add(("crops/" + video_ids)[video], suffixes[np.minimum(pos, FRAMES - 1)])
    crop_path[~ok] = None  # empty text is missing, as in a CSV
    x1 = rng.uniform(300, 1200, n_rows).round(1)
    y1 = rng.uniform(100, 500, n_rows).round(1)
    side = rng.uniform(150, 400, n_rows).round(1)
    box = {
        "x1": x1,
        "y1": y1,
        "x2": x1 + side,
        "y2": y1 + side,
        "score": rng.uniform(0.9, 1, n_rows).round(5),
    }
    for k, v in box.items():
        box[k] = np.where(ok, v, np.nan)
    rows = pd.DataFrame({
        "video_id": video_ids[video],
        "frame_idx": frame_idx,
        "track": np.where(ok, 0.0, np.nan),
        "label": fake[video].astype(int),
        "method": np.where(fake, "DFDC", "original").astype(object)[video],
        "split": split[video],
        "group": video_ids[original][video],
        "crop_path": crop_path,
        **box,
        "source_path": ("/data/dfdc/" + video_ids)[video],
        "fps": 30.0,
        "status": np.where(ok, "ok", "no_face").astype(object),
        "reason": np.where(ok, None, f"no face found in {FRAMES} sampled frames"),
    })  # fmt: skip
    template = np.where(fake, TEMPLATES // 2, 0) + rng.integers(0, TEMPLATES // 2, n_videos)
    rows = rows.reindex(columns=COLUMNS)
    for column in TEXT:  # all-missing text columns stay text (null strings in Parquet), not float NaN
        rows[column] = rows[column].astype("str")
    return rows, video_ids[usable], template[usable]


def make_manifest(root: Path, n_rows: int, pool: Path) -> dict[str, Any]:
    """Write a manifest of ``n_rows`` rows (CSV, Parquet, JSON) and the crop links it names into ``root``."""
    t0 = time.perf_counter()
    rows, videos, template = manifest_frame(n_rows)
    for p in range(PARTS):
        (root / "crops" / f"dfdc_train_part_{p}").mkdir(parents=True, exist_ok=True)
    for video, t in zip(videos.tolist(), template.tolist(), strict=True):  # one link per video
        os.symlink(pool / f"t{t}", root / "crops" / video)
    rows.to_csv(root / "manifest.csv", index=False)
    parquet = "written"
    try:
        rows.to_parquet(root / "manifest.parquet", index=False)
    except ImportError as err:
        parquet = f"not written ({err})"
    (root / "manifest.json").write_text(json.dumps({"crop_size": SIZE, "frames_per_video": FRAMES}))
    split = rows.loc[rows["status"] == "ok", "split"].value_counts()
    return {
        "rows": len(rows),
        "videos": int(rows["video_id"].nunique()),
        "train": int(split.get("train", 0)),
        "val": int(split.get("val", 0)),
        "test": int(split.get("test", 0)),
        "fake_share": float(rows["label"].mean()),
        "csv_mb": (root / "manifest.csv").stat().st_size / 2**20,
        "parquet": parquet,
        "seconds": time.perf_counter() - t0,
    }


# ----------------------------------------------------------------------------- measurements


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident set (``VmRSS``) or its peak so far (``VmHWM``) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_uss_mb() -> dict[int, float]:
    """Private memory (USS, MB) of each DataLoader worker: the children of this process."""
    import psutil

    out = {}
    for child in psutil.Process().children():
        try:
            if "resource_tracker" in " ".join(child.cmdline()):
                continue
            out[child.pid] = child.memory_full_info().uss / 2**20
        except psutil.NoSuchProcess:
            pass
    return out


class ReadLog:
    """Which manifest file the side read: wraps pandas' and pyarrow's readers for one setup."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __enter__(self) -> ReadLog:
        self.patched = [(pd, "read_csv"), (pd, "read_parquet")]
        try:
            import pyarrow.parquet as pq

            self.patched += [(pq, "read_table")]
        except ImportError:
            pass
        self.saved = [(m, name, getattr(m, name)) for m, name in self.patched]
        for module, name, fn in self.saved:
            setattr(module, name, self._wrap(fn))
        return self

    def _wrap(self, fn: Any) -> Any:
        def reader(*args: Any, **kwargs: Any) -> Any:
            source = args[0] if args else next(iter(kwargs.values()), "?")
            name = Path(str(source)).name
            if name not in self.paths:
                self.paths.append(name)
            return fn(*args, **kwargs)

        return reader

    def __exit__(self, *exc: object) -> None:
        for module, name, fn in self.saved:
            setattr(module, name, fn)


def measure(side: str, root: str, samples: int, batch_size: int, workers: int) -> dict[str, Any]:
    """Setup time, main RSS, worker USS growth and images/s of one side, in this (fresh) process."""
    import torch

    from dfd.core.input_spec import InputSpec

    torch.set_num_threads(1)
    torch.manual_seed(0)
    out: dict[str, Any] = {"side": side}
    phase = "import"
    try:
        if side == "legacy":
            import legacy_data
        else:
            from dfd.data.datamodule import FaceCropDataModule
        out["rss_imports_mb"] = rss_mb()
        phase = "setup"
        with ReadLog() as reads:
            t0 = time.perf_counter()
            if side == "legacy":
                data = legacy_data.load_datasets(root, InputSpec(SIZE), val_fraction=0.1)
                datasets = data.datasets

                def make_loader() -> Any:
                    return legacy_data.train_loader(datasets["train"], batch_size, workers)

            else:
                dm = FaceCropDataModule(
                    root=root, input_spec=InputSpec(SIZE), batch_size=batch_size, num_workers=workers,
                    val_fraction=0.1,
                )  # fmt: skip
                dm.prepare_data()  # verify(): the leak audit, as the legacy side does
                dm.setup()
                datasets = dm.datasets
                make_loader = dm.train_dataloader
            out["setup_s"] = time.perf_counter() - t0
        out["read"] = reads.paths
        out["rss_setup_mb"] = rss_mb()
        out["peak_setup_mb"] = rss_mb("VmHWM")
        out["lengths"] = {k: len(v) for k, v in datasets.items()}
        out["dataset"] = type(datasets["train"]).__name__

        phase = "train pass"
        loader = make_loader()
        n_batches = math.ceil(min(samples, len(datasets["train"])) / batch_size)
        it = iter(loader)
        next(it)  # workers started, first files read
        start = worker_uss_mb()
        n, t0 = 0, time.perf_counter()
        for _ in range(n_batches - 1):
            n += len(next(it)["image"])
        out["images_per_s"] = n / (time.perf_counter() - t0) if n else None
        end = worker_uss_mb()
        out["pass_samples"] = n + batch_size
        out["worker_uss_start_mb"] = [start[p] for p in sorted(start)]
        out["worker_uss_end_mb"] = [end.get(p, float("nan")) for p in sorted(start)]
        out["worker_uss_first_mb"] = max(start.values(), default=None)
        out["worker_growth_mb"] = max((end.get(p, float("nan")) - start[p] for p in start), default=None)
        out["rss_end_mb"] = rss_mb()
        del it, loader
    except Exception as err:  # the in-tree side may be half rewritten: report it and go on
        out["error"] = f"{phase}: {type(err).__name__}: {err}"
        out["traceback"] = traceback.format_exc(limit=-4)
    return out


def packed_images_per_s(root: str, samples: int, batch_size: int, workers: int) -> dict[str, float] | None:
    """Training-loader images/s over the same kind of pass read from a pack of ``root``'s
    training crops (``data.format=packed``: ``PackedFrameDataset``, sorted batches of the shuffled
    order, the default training transform), in this fresh process, for each ``dfd.pack``
    encoding. The first ``samples`` training crops are packed, outside the timing."""
    import torch

    from dfd.core.input_spec import InputSpec
    from dfd.data.datamodule import FaceCropDataModule, PackedFrameDataset
    from dfd.data.packed import pack_split
    from dfd.data.samplers import RandomSampler
    from dfd.data.transforms import build_train_transform

    torch.set_num_threads(1)
    dm = FaceCropDataModule(root=root, input_spec=InputSpec(SIZE), val_fraction=0.1)
    dm.prepare_data()
    dm.setup()
    train = dm.datasets["train"]
    n = min(samples, len(train))
    rows = train.sample_table().iloc[:n].copy()
    rows["crop_path"] = [train.paths.relative[i] for i in range(n)]
    out: dict[str, float] = {}
    for encoding in ("source", "raw", "jpeg"):
        packed = Path(root) / f"packed_{encoding}"
        dataset = PackedFrameDataset(root, rows, build_train_transform(InputSpec(SIZE)), packed=packed)
        pack_split(dataset, packed, encoding, progress=False)
        sampler = RandomSampler(dataset.labels.astype(np.int64), seed=0)
        sampler.sorted_batches = batch_size
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, sampler=sampler, num_workers=workers
        )
        it = iter(loader)
        next(it)
        count, t0 = 0, time.perf_counter()
        for batch in it:
            count += len(batch["image"])
        out[encoding] = count / (time.perf_counter() - t0)
        del it, loader
    return out


# ----------------------------------------------------------------------------- parent


def run_child(mode: str, args: argparse.Namespace, root: Path, **extra: Any) -> dict[str, Any]:
    """This file in ``--child mode`` in a fresh interpreter; its JSON, or the error it died with."""
    cmd = [sys.executable, __file__, "--child", mode, "--root", str(root), "--samples", str(args.samples),
           "--batch-size", str(args.batch_size), "--workers", str(args.workers)]  # fmt: skip
    for k, v in extra.items():
        cmd += [f"--{k}", str(v)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout} s (--timeout)", "wall_s": time.perf_counter() - t0}
    found = [line[len(MARK) :] for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if found:
        out = json.loads(found[-1])
    else:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        out = {"error": f"exit code {proc.returncode}: {tail}"}
    out["wall_s"] = time.perf_counter() - t0
    return out


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's runs as one: the median of each number over the runs that finished."""
    ok = [r for r in runs if "error" not in r]
    out = dict(ok[0] if ok else runs[0])
    for key in NUMBERS:
        values = [r[key] for r in ok if r.get(key) is not None]
        if values:
            out[key] = float(np.median(values))
    out["wall_s"] = sum(r["wall_s"] for r in runs)
    out["runs"] = f"{len(ok)} of {len(runs)}"
    failed = [r["error"] for r in runs if "error" in r]
    if ok and failed:
        out["failed_runs"] = failed
    return out


def fmt(value: Any, digits: int = 1) -> str:
    return (
        "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"
    )


def compare(legacy: Any, current: Any, better: str) -> str:
    """How current stands to legacy: ``Nx faster`` for times, ``Nx`` (current / legacy) otherwise."""
    if legacy is None or current is None or not legacy or not current:
        return "-"
    if better == "lower_time":
        return f"{legacy / current:.2f}x faster"
    return f"{current / legacy:.2f}x"


def print_table(n_rows: int, info: dict[str, Any], res: dict[str, dict[str, Any]], packed: Any) -> None:
    leg, cur = res["legacy"], res["current"]
    print(f"\n== {n_rows:,} rows: {info['videos']:,} videos, {info['train']:,} train / {info['val']:,} val / "
          f"{info['test']:,} test crops, {info['fake_share']:.0%} fake; manifest.csv {info['csv_mb']:.0f} MB, "
          f"parquet {info['parquet']}")  # fmt: skip
    for side in SIDES:
        r = res[side]
        read = ", ".join(r.get("read", [])) or "?"
        print(f"   {side}: {r.get('dataset', '?')}, read {read}, lengths {r.get('lengths', '?')}, "
              f"pass {r.get('pass_samples', '-')} samples, runs {r['runs']}, child wall time {r['wall_s']:.1f} s")  # fmt: skip
        for error in r.get("failed_runs", []):
            print(f"   {side} run FAILED: {error}")
        if "error" in r:
            print(f"   {side} FAILED: {r['error']}")
            if r.get("traceback"):
                print("     " + r["traceback"].strip().replace("\n", "\n     "))

    def delta(r: dict[str, Any]) -> float | None:
        if "rss_setup_mb" not in r or "rss_imports_mb" not in r:
            return None
        return r["rss_setup_mb"] - r["rss_imports_mb"]

    rows = [
        ("manifest load + setup (s)", leg.get("setup_s"), cur.get("setup_s"), "lower_time", 2),
        ("main RSS after setup (MB)", leg.get("rss_setup_mb"), cur.get("rss_setup_mb"), "ratio", 0),
        ("  of which since imports (MB)", delta(leg), delta(cur), "ratio", 0),
        ("main peak RSS up to then (MB)", leg.get("peak_setup_mb"), cur.get("peak_setup_mb"), "ratio", 0),
        ("worker USS after 1st batch (MB)", leg.get("worker_uss_first_mb"), cur.get("worker_uss_first_mb"),
         "ratio", 1),
        ("worker USS growth / pass (MB)", leg.get("worker_growth_mb"), cur.get("worker_growth_mb"), "ratio", 1),
        ("PNG images/s", leg.get("images_per_s"), cur.get("images_per_s"), "ratio", 0),
    ]  # fmt: skip
    print(f"   {'metric':<34}{'legacy':>12}{'current':>12}   current vs legacy")
    for name, a, b, better, digits in rows:
        print(f"   {name:<34}{fmt(a, digits):>12}{fmt(b, digits):>12}   {compare(a, b, better)}")
    png = cur.get("images_per_s")
    if not packed:
        print("   packed: not measured")
    else:
        for encoding, rate in packed.items():
            print(f"   packed ({encoding}) images/s {rate:,.0f}: {compare(png, rate, 'ratio')} PNG (current)")


def print_goals(results: list[tuple[int, dict[str, dict[str, Any]], Any]]) -> None:
    """The issue's targets, read off the largest size where both sides ran."""
    print("\n== goals (largest size measured)")

    def last(key: str) -> tuple[int, Any, Any] | None:
        for n, res, _ in reversed(results):
            a, b = res["legacy"].get(key), res["current"].get(key)
            if a is not None and b is not None:
                return n, a, b
        return None

    def line(goal: str, found: tuple[int, Any, Any] | None, value: Any, met: Any) -> None:
        if found is None:
            print(f"   {goal}: not measured")
        else:
            print(f"   {goal}: {value} at {found[0]:,} rows ({'met' if met else 'not met'})")

    f = last("setup_s")
    line("setup >= 5x faster", f, f and f"{f[1] / f[2]:.2f}x", f and f[1] / f[2] >= 5)
    f = last("rss_setup_mb")
    line("main RSS <= 1/3 of legacy", f, f and f"{f[2] / f[1]:.2f}x", f and f[2] / f[1] <= 1 / 3)
    if f is not None:  # both sides import the same ~1 GB (torch, Lightning): the data's share alone
        res = next(res for n, res, _ in results if n == f[0])
        grown = [res[side]["rss_setup_mb"] - res[side]["rss_imports_mb"] for side in SIDES]
        if grown[0] > 0:
            print(
                f"     (RSS grown since imports: {grown[1] / grown[0]:.2f}x, {grown[1]:,.0f} MB against {grown[0]:,.0f})"
            )
    f = last("worker_growth_mb")
    note = "" if f is None or f[0] >= 4_000_000 else " [goal is at 4,000,000 rows]"
    line("worker growth < 20 MB per pass" + note, f, f and f"{f[2]:.1f} MB", f and f[2] < 20)
    n, res, packed = results[-1] if results else (0, {}, None)
    png = res.get("current", {}).get("images_per_s") if res else None
    if not packed or not png:
        print("   packed >= 1.5x PNG images/s: not measured")
    else:
        for encoding, rate in packed.items():
            print(f"   packed ({encoding}) >= 1.5x PNG images/s: {rate / png:.2f}x at {n:,} rows "
                  f"({'met' if rate / png >= 1.5 else 'not met'})")  # fmt: skip


def code_state() -> str:
    """The in-tree code the ``current`` numbers come from: HEAD and uncommitted files under dfd/."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "dfd"], cwd=REPO, capture_output=True, text=True
        )
    except OSError:
        return "unknown (no git)"
    changed = [line[3:] for line in dirty.stdout.splitlines()]
    return f"HEAD {head.stdout.strip()}" + (f" + uncommitted {', '.join(changed)}" if changed else " (clean)")


def child_main(args: argparse.Namespace) -> None:
    if args.child == "gen":
        out = make_manifest(Path(args.root), args.rows, Path(args.pool))
    elif args.child == "packed":
        out = {"images_per_s": packed_images_per_s(args.root, args.samples, args.batch_size, args.workers)}
    else:
        out = measure(args.child, args.root, args.samples, args.batch_size, args.workers)
    print(MARK + json.dumps(out), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=None, help="manifest rows, comma-separated (overrides the tier)")
    parser.add_argument("--samples", type=int, default=None, help="crops per training pass")
    parser.add_argument("--full", action="store_true", help="100k, 1M and 4M rows, 200,000-sample passes")
    parser.add_argument("--quick", action="store_true", help="the default tier (kept for old command lines)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="runs per side, interleaved; medians shown")
    parser.add_argument("--timeout", type=float, default=7200, help="s, per subprocess")
    parser.add_argument("--child", choices=["gen", "packed", *SIDES], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pool", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.samples is None:
        args.samples = 200_000 if args.full else 20_000
    if args.child:
        child_main(args)
        return
    default_sizes = "100000,1000000,4000000" if args.full else "20000,100000"
    sizes = [int(s) for s in (args.sizes or default_sizes).split(",")]
    print(f"in-tree code: {code_state()}; baseline: legacy_data.py (commit 3180967)")
    print(f"{SIZE} px PNG crops, batch {args.batch_size}, {args.workers} workers, passes of up to "
          f"{args.samples:,} shuffled training samples; every run in a fresh subprocess, median of "
          f"{args.repeats}", flush=True)  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="bench_data_scale."))
    results = []
    try:
        pool = tmp / "pool"
        make_pool(pool)
        for n_rows in sizes:
            root = tmp / f"rows_{n_rows}"
            root.mkdir()
            info = run_child("gen", args, root, rows=n_rows, pool=pool)
            if "error" in info:
                print(f"\n== {n_rows:,} rows: manifest generation failed: {info['error']}")
                continue
            print(f"-- {n_rows:,} rows: manifest written in {info['wall_s']:.1f} s", flush=True)
            runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
            for _ in range(args.repeats):  # interleaved, so a busy spell on the machine hits both
                for side in SIDES:
                    runs[side].append(run_child(side, args, root))
                    print(f"-- {n_rows:,} rows: {side} done in {runs[side][-1]['wall_s']:.1f} s", flush=True)
            res = {side: median_of(runs[side]) for side in SIDES}
            packed = run_child("packed", args, root).get("images_per_s")
            print_table(n_rows, info, res, packed)
            results.append((n_rows, res, packed))
            shutil.rmtree(root, ignore_errors=True)
        print_goals(results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
