"""Mini raw datasets: small trees in every raw layout dfd reads, with real H.264 video.

The real datasets are licensed by request, so tests and the demo run on trees generated here,
one ``make_<name>`` per layout of :data:`dfd.raw.layouts.LAYOUTS` (FF++, DFD, Celeb-DF, DFDC,
FakeAVCeleb, LAV-DF and AV-Deepfake1M, DeepfakeBench and DF40, plain folders, ...), laid out
exactly as its parser reads it, from the media of
:mod:`dfd.data.synthetic.mini.media`. Corrupt files (zero-byte, truncated, no face, no audio,
metadata entry without file, file without entry) are added on request. ``python -m dfd.generate mini=<layout>`` writes one.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dfd.data.synthetic.mini.media import (
    MANIPULATIONS,
    Identity,
    VideoSpec,
    expand_box,
    fake_frames,
    fake_masks,
    render,
    render_no_face,
    speech_like,
    truncate,
    write_video,
)
from dfd.raw.audio import SAMPLE_RATE
from dfd.raw.layouts import MINI_TREES
from dfd.raw.layouts.ffpp import DFD_METHOD, FFPP_MASK_METHODS


@dataclass
class Mini:
    """Common settings of one generated tree."""

    out: Path
    spec: VideoSpec = VideoSpec()
    crf: int = 23

    def real(self, path: Path, ident: int, seed: int, audio: bool = False) -> Path:
        frames, _ = render(Identity.make(ident), self.spec, seed)
        return write_video(path, frames, self.spec.fps, self.crf, self._audio(ident, seed) if audio else None)

    def fake(
        self, path: Path, target: int, source: int, seed: int, method: str, audio: np.ndarray | None = None
    ) -> Path:
        frames = fake_frames(Identity.make(target), Identity.make(source), self.spec, seed, method)
        return write_video(path, frames, self.spec.fps, self.crf, audio)

    def mask(self, path: Path, target: int, seed: int, method: str) -> Path:
        """The manipulation mask video of :meth:`fake` ``(·, target, ·, seed, method)``: white where the
        face was changed, black elsewhere, frame for frame (FF++'s ``masks/videos``)."""
        masks = fake_masks(Identity.make(target), self.spec, seed, method)
        return write_video(path, np.repeat(masks[..., None], 3, axis=-1), self.spec.fps, self.crf)

    def no_face(self, path: Path, seed: int, audio: bool = False) -> Path:
        return write_video(
            path,
            render_no_face(self.spec, seed),
            self.spec.fps,
            self.crf,
            self._audio(0, seed) if audio else None,
        )

    def _audio(self, ident: int, seed: int, shift: float = 0.0) -> np.ndarray:
        seconds = self.spec.n_frames / self.spec.fps
        signal = speech_like(ident, seconds + shift, seed)
        return signal[int(shift * SAMPLE_RATE) :][: int(seconds * SAMPLE_RATE)] if shift else signal


# ----------------------------------------------------------------------------- FF++


def make_ffpp(
    out: str | Path,
    n_pairs: int = 6,
    methods: tuple[str, ...] = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"),
    compression: str = "c23",
    split_pairs: tuple[int, int, int] | None = None,
    include_dfd: bool = False,
    corrupt: bool = False,
    spec: VideoSpec = VideoSpec(),
    masks: bool = True,
) -> Path:
    """FF++ tree: ``2·n_pairs`` originals and, per method, fakes ``a_b`` and ``b_a`` of each pair.

    ``split_pairs`` = (train, val, test) pair counts; by default about 4:1:1. With ``corrupt``
    an extra train pair (990, 991) carries a zero-byte original, a no-face original, a truncated
    fake, a fake missing from disk, and a video 998 present on disk but in no split file.
    With ``masks``, each fake of a method FF++ ships masks for (:data:`FFPP_MASK_METHODS`: not
    FaceShifter) and each DFD fake gets its mask video, ``manipulated_sequences/<method>/masks/
    videos/<id>.mp4`` (white where the face was changed); the corrupt pair's fakes get none.
    """
    root = Path(out)
    mini = Mini(root, spec, crf={"raw": 0, "c23": 23, "c40": 40}[compression])
    if split_pairs is None:
        n_val = n_test = max(1, n_pairs // 6)
        split_pairs = (n_pairs - n_val - n_test, n_val, n_test)
    if sum(split_pairs) != n_pairs or min(split_pairs) < 1:
        raise ValueError(f"split_pairs={split_pairs} must be positive and sum to n_pairs={n_pairs}")
    pairs = [(f"{2 * i:03d}", f"{2 * i + 1:03d}") for i in range(n_pairs)]
    bounds = np.cumsum((0,) + tuple(split_pairs))
    splits = {name: pairs[bounds[k] : bounds[k + 1]] for k, name in enumerate(("train", "val", "test"))}
    if corrupt:
        splits["train"] = splits["train"] + [("990", "991")]
    (root / "splits").mkdir(parents=True, exist_ok=True)
    for name, split in splits.items():
        (root / "splits" / f"{name}.json").write_text(json.dumps([list(p) for p in split]))
    orig = root / "original_sequences" / "youtube" / compression / "videos"
    for i, (a, b) in enumerate(pairs):
        for vid, ident in ((a, 2 * i), (b, 2 * i + 1)):
            mini.real(orig / f"{vid}.mp4", ident, seed=int(vid))
        for method in methods:
            folder = root / "manipulated_sequences" / method / compression / "videos"
            mini.fake(folder / f"{a}_{b}.mp4", 2 * i, 2 * i + 1, int(a), method)
            mini.fake(folder / f"{b}_{a}.mp4", 2 * i + 1, 2 * i, int(b), method)
            if masks and method in FFPP_MASK_METHODS:
                mask_dir = root / "manipulated_sequences" / method / "masks" / "videos"
                mini.mask(mask_dir / f"{a}_{b}.mp4", 2 * i, int(a), method)
                mini.mask(mask_dir / f"{b}_{a}.mp4", 2 * i + 1, int(b), method)
    if corrupt:
        (orig / "990.mp4").write_bytes(b"")
        mini.no_face(orig / "991.mp4", seed=991)
        mini.real(orig / "998.mp4", 3, seed=998)  # on disk, in no split file
        for k, method in enumerate(methods):
            folder = root / "manipulated_sequences" / method / compression / "videos"
            if k == 0:
                truncate(mini.fake(folder / "990_991.mp4", 0, 1, 990, method))
            else:
                mini.fake(folder / "990_991.mp4", 0, 1, 990, method)
            if k != 0:  # the first method's 991_990 is listed but missing
                mini.fake(folder / "991_990.mp4", 1, 0, 991, method)
    if include_dfd:
        actors = root / "original_sequences" / "actors" / compression / "videos"
        dfd_fakes = root / "manipulated_sequences" / "DeepFakeDetection" / compression / "videos"
        for actor in (1, 2):
            mini.real(actors / f"{actor:02d}__talking.mp4", actor + 2, seed=500 + actor)
            other = 3 - actor
            name = f"{actor:02d}_{other:02d}__talking__ABC{actor}.mp4"
            mini.fake(dfd_fakes / name, actor + 2, other + 2, 500 + actor, "Deepfakes")
            if masks:
                mini.mask(root / "manipulated_sequences" / DFD_METHOD / "masks" / "videos" / name,
                          actor + 2, 500 + actor, "Deepfakes")  # fmt: skip
    return root


# ----------------------------------------------------------------------------- Celeb-DF


def make_celebdf(
    out: str | Path,
    n_ids: int = 4,
    videos_per_id: int = 2,
    n_youtube: int = 2,
    corrupt: bool = False,
    spec: VideoSpec = VideoSpec(),
) -> Path:
    """Celeb-DF tree; the last identity's videos and the last YouTube clip form the test list."""
    root = Path(out)
    mini = Mini(root, spec)
    test_lines = []
    for i in range(n_ids):
        for k in range(videos_per_id):
            real = mini.real(root / "Celeb-real" / f"id{i}_{k:04d}.mp4", i, seed=100 * i + k)
            j = (i + 1) % n_ids
            fake = mini.fake(
                root / "Celeb-synthesis" / f"id{i}_id{j}_{k:04d}.mp4", i, j, 100 * i + k, "Deepfakes"
            )
            if i == n_ids - 1:
                test_lines += [f"1 Celeb-real/{real.name}", f"0 Celeb-synthesis/{fake.name}"]
    for k in range(n_youtube):
        yt = mini.real(root / "YouTube-real" / f"{k:05d}.mp4", n_ids + k, seed=9000 + k)
        if k == n_youtube - 1:
            test_lines.append(f"1 YouTube-real/{yt.name}")
    if corrupt:
        test_lines.append("0 Celeb-synthesis/id9_id8_0000.mp4")  # listed, missing
        truncate(mini.real(root / "Celeb-real" / f"id{n_ids}_0000.mp4", 1, seed=77))
    (root / "List_of_testing_videos.txt").write_text("\n".join(test_lines) + "\n")
    return root


# ----------------------------------------------------------------------------- DFDC


def make_dfdc(
    out: str | Path,
    n_parts: int = 3,
    originals_per_part: int = 2,
    fakes_per_original: int = 2,
    n_test: int = 4,
    corrupt: bool = False,
    spec: VideoSpec = VideoSpec(),
) -> Path:
    """DFDC tree: parts 0…n_parts-1 (the last is meant as validation) plus ``test/labels.csv``.

    Fakes alternate between a swapped face with the original audio and a swapped face whose
    audio is another identity's, as DFDC manipulates the audio of some fakes.
    """
    root = Path(out)
    mini = Mini(root, spec)
    methods = list(MANIPULATIONS)
    for p in range(n_parts):
        part = root / f"dfdc_train_part_{p}"
        meta = {}
        for o in range(originals_per_part):
            ident, seed = p * originals_per_part + o, 1000 * p + o
            name = f"p{p}real{o}.mp4"
            mini.real(part / name, ident, seed, audio=True)
            meta[name] = {"label": "REAL", "split": "train", "original": None}
            for f in range(fakes_per_original):
                fname = f"p{p}fake{o}{f}.mp4"
                source = ident + 1 + f
                audio = mini._audio(ident, seed) if f % 2 == 0 else mini._audio(source, seed + 1)
                mini.fake(part / fname, ident, source, seed, methods[f % len(methods)], audio=audio)
                meta[fname] = {"label": "FAKE", "split": "train", "original": name}
        if corrupt and p == 0:
            meta["ghost.mp4"] = {"label": "FAKE", "split": "train", "original": "p0real0.mp4"}  # no file
            mini.real(part / "stray.mp4", 5, seed=55, audio=True)  # no entry
            mini.real(part / "silent.mp4", 6, seed=56, audio=False)  # no audio track
            meta["silent.mp4"] = {"label": "REAL", "split": "train", "original": None}
            (part / "empty.mp4").write_bytes(b"")
            meta["empty.mp4"] = {"label": "REAL", "split": "train", "original": None}
        (part / "metadata.json").write_text(json.dumps(meta, indent=1))
    if n_test:
        rows = []
        for k in range(n_test):
            name = f"t{k:03d}.mp4"
            if k % 2:
                mini.fake(
                    root / "test" / name,
                    20 + k,
                    21 + k,
                    7000 + k,
                    "Deepfakes",
                    audio=mini._audio(20 + k, 7000 + k, shift=0.4),
                )
            else:
                mini.real(root / "test" / name, 20 + k, 7000 + k, audio=True)
            rows.append(f"{name},{k % 2}")
        (root / "test" / "labels.csv").write_text("filename,label\n" + "\n".join(rows) + "\n")
    return root


# ----------------------------------------------------------------------------- FakeAVCeleb


def make_fakeavceleb(
    out: str | Path, n_ids: int = 6, corrupt: bool = False, spec: VideoSpec = VideoSpec()
) -> Path:
    """FakeAVCeleb tree: per identity one video in each category A–D and ``meta_data.csv``.

    Fake audio is another identity's voice preceded by 0.3 s of silence, the shortcut the
    published analyses found in the real dataset.
    """
    root = Path(out)
    mini = Mini(root, spec)
    seconds = spec.n_frames / spec.fps
    rows = []
    races = ("African", "Asian (East)", "Caucasian (American)")
    for i in range(n_ids):
        source, other = f"id{i:05d}", (i + 1) % n_ids
        race, gender = races[i % len(races)], ("men", "women")[i % 2]
        silence = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
        fake_audio = np.concatenate([silence, speech_like(other, seconds, 50 + i)])[
            : int(seconds * SAMPLE_RATE)
        ]
        for category, folder in (
            ("A", "RealVideo-RealAudio"),
            ("B", "RealVideo-FakeAudio"),
            ("C", "FakeVideo-RealAudio"),
            ("D", "FakeVideo-FakeAudio"),
        ):
            rel_dir = Path(folder) / race / gender / source
            name = "00001.mp4"
            path = root / rel_dir / name
            if category == "A":
                mini.real(path, i, seed=300 + i, audio=True)
            elif category == "B":
                frames, _ = render(Identity.make(i), spec, 300 + i)
                write_video(path, frames, spec.fps, audio=fake_audio)
            else:
                audio = mini._audio(i, 300 + i) if category == "C" else fake_audio
                mini.fake(path, i, other, 300 + i, "Deepfakes" if i % 2 else "FaceSwap", audio=audio)
            method = {
                "A": "real",
                "B": "rtvc",
                "C": "faceswap" if i % 2 == 0 else "fsgan",
                "D": "faceswap-wav2lip",
            }[category]
            target = "-" if category in "AB" else f"id{other:05d}"
            rows.append(
                [source, target, "-", method, category, folder, race, gender, name, f"FakeAVCeleb/{rel_dir}"]
            )
    if corrupt:
        rows.append(
            [
                "id99999",
                "-",
                "-",
                "real",
                "A",
                "RealVideo-RealAudio",
                "African",
                "men",
                "00001.mp4",
                "FakeAVCeleb/RealVideo-RealAudio/African/men/id99999",
            ]
        )
        mini.real(
            root / "RealVideo-RealAudio" / "African" / "men" / "id88888" / "00001.mp4",
            2,
            seed=888,
            audio=True,
        )
        silent = root / "RealVideo-RealAudio" / "Asian (East)" / "women" / "id77777" / "00001.mp4"
        mini.real(silent, 3, seed=777, audio=False)
        rows.append(
            [
                "id77777",
                "-",
                "-",
                "real",
                "A",
                "RealVideo-RealAudio",
                "Asian (East)",
                "women",
                "00001.mp4",
                "FakeAVCeleb/RealVideo-RealAudio/Asian (East)/women/id77777",
            ]
        )
    with (root / "meta_data.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["source", "target1", "target2", "method", "category", "type", "race", "gender", "path", ""]
        )
        writer.writerows(rows)
    return root


# ----------------------------------------------------------------------------- folders


def face_crop_images(
    identity: int,
    n: int,
    seed: int,
    spec: VideoSpec,
    method: str | None = None,
    size: int = 128,
    masks: bool = False,
) -> list[np.ndarray]:
    """``n`` face crops of ``identity`` (fakes when ``method`` is given), as plain images would ship;
    with ``masks``, the fakes' manipulation masks cut alike (one channel, 0/255) instead."""
    ident = Identity.make(identity)
    short = VideoSpec(spec.width, spec.height, n, spec.fps)
    frames, boxes = render(ident, short, seed)
    if masks:
        frames = fake_masks(ident, short, seed, method or "")
    elif method is not None:
        frames = fake_frames(ident, Identity.make(identity + 1), short, seed, method)
    crops = []
    for frame, box in zip(frames, boxes, strict=True):
        x1, y1, x2, y2 = expand_box(tuple(box), 0.1)
        h, w = frame.shape[:2]
        crops.append(cv2.resize(frame[max(0, y1) : min(h, y2), max(0, x1) : min(w, x2)], (size, size)))
    return crops


def make_folder(
    out: str | Path,
    n_images: int = 8,
    n_videos: int = 1,
    variant: str = "flat",
    metadata: bool = False,
    corrupt: bool = False,
    spec: VideoSpec = VideoSpec(),
) -> Path:
    """Folder dataset: ``real/ fake/`` (``variant="flat"``) or ``train_real/ … test_fake/`` (``"split"``)."""
    root = Path(out)
    mini = Mini(root, spec)
    folders = {
        "flat": [("real", 0), ("fake", 1)],
        "split": [(f"{s}_{c}", lab) for s in ("train", "test") for c, lab in (("real", 0), ("fake", 1))],
    }[variant]
    meta = {}
    for k, (folder, label) in enumerate(folders):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n_images):
            ident = (i % 4) + 4 * k
            crop = face_crop_images(
                ident, 1, seed=100 * k + i, spec=spec, method="FaceSwap" if label else None
            )[0]
            name = f"{folder}_{i:03d}.png"
            cv2.imwrite(str(root / folder / name), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
            meta[name] = {"label": label, "source": folder}
        for v in range(n_videos):
            name = f"{folder}_clip{v}.mp4"
            if label:
                mini.fake(root / folder / name, k + v, k + v + 1, 40 + 10 * k + v, "Deepfakes")
            else:
                mini.real(root / folder / name, k + v, 40 + 10 * k + v)
            meta[name] = {"label": label, "source": folder}
    if corrupt:
        meta["ghost.png"] = {"label": 1, "source": "fake"}
        crop = face_crop_images(7, 1, seed=5, spec=spec)[0]
        cv2.imwrite(str(root / folders[0][0] / "stray.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    if metadata or corrupt:
        (root / "metadata.json").write_text(json.dumps(meta, indent=1))
    return root


# ----------------------------------------------------------------------------- DeepfakeBench


def make_deepfakebench(
    out: str | Path, n_videos: int = 4, frames_per_video: int = 4, spec: VideoSpec = VideoSpec()
) -> Path:
    """DeepfakeBench data: cropped frames under ``rgb/`` and ``dataset_json/`` with absolute paths
    from another machine (``/home/someone/DeepfakeBench/datasets/rgb/…``). ``FaceForensics++.json``
    has train/val/test with c23, its fakes with their ``masks`` (cut like the frames); ``Celeb-DF-v2.json``
    has val equal to test, as theirs does."""
    root = Path(out)
    foreign = "/home/someone/DeepfakeBench/datasets/rgb"

    def frames(dataset: str, sub: str, name: str, ident: int, seed: int, method: str | None) -> list[str]:
        folder = root / "rgb" / dataset / sub / "frames" / name
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for k, crop in enumerate(face_crop_images(ident, frames_per_video, seed, spec, method)):
            cv2.imwrite(str(folder / f"{k:03d}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
            paths.append(f"{foreign}/{dataset}/{sub}/frames/{name}/{k:03d}.png")
        return paths

    def masks(sub: str, name: str, ident: int, seed: int, method: str) -> list[str]:
        """FF++ fakes' masks as DeepfakeBench lists them: ``<sub>/masks/<video>/<frame name>``, listed
        in another order than the frames (directory order)."""
        folder = root / "rgb" / "FaceForensics++" / sub / "masks" / name
        folder.mkdir(parents=True, exist_ok=True)
        for k, mask in enumerate(face_crop_images(ident, frames_per_video, seed, spec, method, masks=True)):
            cv2.imwrite(str(folder / f"{k:03d}.png"), mask)
        return [
            f"{foreign}/FaceForensics++/{sub}/masks/{name}/{k:03d}.png"
            for k in reversed(range(frames_per_video))
        ]

    ff: dict = {"FF-real": {}, "FF-DF": {}}
    for i in range(n_videos):
        split = ("train", "train", "val", "test")[i % 4]
        real, fake = f"{i:03d}", f"{i:03d}_{i + 1:03d}"
        ff["FF-real"].setdefault(split, {"c23": {}})["c23"][real] = {
            "label": "FF-real",
            "frames": frames("FaceForensics++", "original_sequences/youtube/c23", real, i, 60 + i, None),
        }
        ff["FF-DF"].setdefault(split, {"c23": {}})["c23"][fake] = {
            "label": "FF-DF",
            "frames": frames(
                "FaceForensics++", "manipulated_sequences/Deepfakes/c23", fake, i, 60 + i, "Deepfakes"
            ),
            "masks": masks("manipulated_sequences/Deepfakes/c23", fake, i, 60 + i, "Deepfakes"),
        }
    cdf: dict = {"CelebDFv2_real": {"train": {}, "test": {}}, "CelebDFv2_fake": {"train": {}, "test": {}}}
    for i in range(n_videos):
        split = "test" if i == n_videos - 1 else "train"
        cdf["CelebDFv2_real"][split][f"id{i}_0000"] = {
            "label": "CelebDFv2_real",
            "frames": frames("Celeb-DF-v2", "Celeb-real", f"id{i}_0000", i, 80 + i, None),
        }
        cdf["CelebDFv2_fake"][split][f"id{i}_id{i + 1}_0000"] = {
            "label": "CelebDFv2_fake",
            "frames": frames(
                "Celeb-DF-v2", "Celeb-synthesis", f"id{i}_id{i + 1}_0000", i, 80 + i, "FaceSwap"
            ),
        }
    for label in cdf:
        cdf[label]["val"] = cdf[label]["test"]
    (root / "dataset_json").mkdir(parents=True, exist_ok=True)
    (root / "dataset_json" / "FaceForensics++.json").write_text(json.dumps({"FaceForensics++": ff}))
    (root / "dataset_json" / "Celeb-DF-v2.json").write_text(json.dumps({"Celeb-DF-v2": cdf}))
    return root


def make_df40(
    out: str | Path,
    n_videos: int = 4,
    frames_per_video: int = 4,
    methods: tuple[str, ...] | list[str] = ("simswap", "e4s"),
    leaks: bool = True,
    spec: VideoSpec = VideoSpec(),
) -> Path:
    """DF40 data (Yan et al., "DF40: Toward Next-Generation Deepfake Detection", NeurIPS 2024) as
    DeepfakeBench ships it: face crops under ``rgb/`` and ``dataset_json/FSAll_ff.json`` (the FF++
    reals and one ``<method>_Fake`` label per face-swap method), frame paths from another machine.
    With ``leaks`` it has DF40's reported faults: val equal to test, and one real video's frames
    listed in train and again in test."""
    root = Path(out)
    foreign = "/home/someone/DF40/rgb"
    swaps = list(MANIPULATIONS)

    def frames(folder: str, name: str, ident: int, seed: int, method: str | None) -> list[str]:
        (root / "rgb" / folder / name).mkdir(parents=True, exist_ok=True)
        paths = []
        for k, crop in enumerate(face_crop_images(ident, frames_per_video, seed, spec, method)):
            cv2.imwrite(
                str(root / "rgb" / folder / name / f"{k:03d}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
            )
            paths.append(f"{foreign}/{folder}/{name}/{k:03d}.png")
        return paths

    labels = ["FF-real", *(f"{m}_Fake" for m in methods)]
    data: dict = {label: {"train": {}, "val": {}, "test": {}} for label in labels}
    for i in range(n_videos):
        split = "test" if i == n_videos - 1 else "val" if i == n_videos - 2 and not leaks else "train"
        real = f"{i:03d}"
        data["FF-real"][split][real] = {
            "label": "FF-real",
            "frames": frames("FF-real", real, i, 90 + i, None),
        }
        for j, method in enumerate(methods):
            fake = f"{i:03d}_{i + 1:03d}"
            data[f"{method}_Fake"][split][fake] = {
                "label": f"{method}_Fake",
                "frames": frames(method, fake, i, 90 + i, swaps[j % len(swaps)]),
            }
    if leaks:
        data["FF-real"]["test"]["000_again"] = data["FF-real"]["train"]["000"]
        for label in labels:
            data[label]["val"] = dict(data[label]["test"])
    (root / "dataset_json").mkdir(parents=True, exist_ok=True)
    (root / "dataset_json" / "FSAll_ff.json").write_text(json.dumps({"FSAll_ff": data}))
    return root


# ----------------------------------------------------------------------------- more datasets


def make_uadfv(out: str | Path, n_pairs: int = 3, spec: VideoSpec = VideoSpec()) -> Path:
    """UADFV tree: ``real/0000.mp4`` and its fake ``fake/0000_fake.mp4``, for ``n_pairs`` pairs."""
    root = Path(out)
    mini = Mini(root, spec)
    for i in range(n_pairs):
        mini.real(root / "real" / f"{i:04d}.mp4", 30 + i, seed=3000 + i)
        mini.fake(root / "fake" / f"{i:04d}_fake.mp4", 30 + i, 31 + i, 3000 + i, "Deepfakes")
    return root


def make_dfdcp(out: str | Path, n_targets: int = 4, spec: VideoSpec = VideoSpec()) -> Path:
    """DFDC preview tree: ``original_videos/<target>/``, ``method_A/`` and ``method_B/`` fakes of each
    target, and ``dataset.json`` with ``{label, set, target_id}``; the last target is ``test``."""
    root = Path(out)
    mini = Mini(root, spec)
    meta = {}
    for t in range(n_targets):
        target, split = f"{640000 + t}", "test" if t == n_targets - 1 else "train"
        rel = f"original_videos/{target}/{target}_A_001.mp4"
        mini.real(root / rel, 40 + t, seed=4000 + t, audio=True)
        meta[rel] = {"label": "real", "set": split, "target_id": target}
        for m, method in enumerate(("method_A", "method_B")):
            rel = f"{method}/{target}/{target}_{m}_001.mp4"
            audio = mini._audio(40 + t, 4000 + t)
            mini.fake(
                root / rel, 40 + t, 41 + t, 4000 + t, list(MANIPULATIONS)[m % len(MANIPULATIONS)], audio=audio
            )
            meta[rel] = {"label": "fake", "set": split, "target_id": target}
    (root / "dataset.json").write_text(json.dumps(meta, indent=1))
    return root


def make_wilddeepfake(
    out: str | Path,
    n_videos: int = 3,
    sequences_per_video: int = 2,
    frames: int = 3,
    spec: VideoSpec = VideoSpec(),
) -> Path:
    """WildDeepfake tree, unpacked: ``{real,fake}_{train,test}/<video>/<sequence>/<k>.png`` face frames;
    the last video of each class is test."""
    root = Path(out)
    for label, cls in ((0, "real"), (1, "fake")):
        for v in range(n_videos):
            split = "test" if v == n_videos - 1 else "train"
            for q in range(sequences_per_video):
                folder = root / f"{cls}_{split}" / f"{v + 10 * label}" / f"{q}"
                folder.mkdir(parents=True, exist_ok=True)
                crops = face_crop_images(50 + v + 10 * label, frames, 5000 + 100 * v + q, spec,
                                         "FaceSwap" if label else None)  # fmt: skip
                for k, crop in enumerate(crops):
                    cv2.imwrite(str(folder / f"{k}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    return root


def make_deeperforensics(
    out: str | Path,
    n_targets: int = 5,
    levels: tuple[str, ...] = ("end_to_end", "end_to_end_level_3"),
    lists: bool = True,
    spec: VideoSpec = VideoSpec(),
) -> Path:
    """DeeperForensics-1.0 tree: ``manipulated_videos/<level>/<target>_M<actor>.mp4`` for FF++ targets
    000…, ``source_videos/M<actor>/…`` and, with ``lists``, ``lists/splits/{train,val,test}.txt``
    (targets 0–2 train, 3 val, 4 test); plus ``ffpp_originals/<target>.mp4``, the FF++ reals."""
    root = Path(out)
    mini = Mini(root, spec)
    names = {}
    for t in range(n_targets):
        target, actor = f"{t:03d}", f"M{100 + t}"
        names[target] = f"{target}_{actor}.mp4"
        mini.real(root / "ffpp_originals" / f"{target}.mp4", 60 + t, seed=6000 + t)
        mini.real(root / "source_videos" / actor / "light_uniform" / "front.mp4", 70 + t, seed=6100 + t)
        for k, level in enumerate(levels):
            mini.fake(root / "manipulated_videos" / level / names[target], 60 + t, 70 + t, 6000 + t,
                      list(MANIPULATIONS)[k % len(MANIPULATIONS)])  # fmt: skip
    if lists:
        (root / "lists" / "splits").mkdir(parents=True, exist_ok=True)
        order = sorted(names)
        bounds = {"train": order[: max(1, n_targets - 2)], "val": order[-2:-1], "test": order[-1:]}
        for split, targets in bounds.items():
            (root / "lists" / "splits" / f"{split}.txt").write_text("".join(f"{names[t]}\n" for t in targets))
    return root


def make_avdeepfake(
    out: str | Path, n_videos: int = 8, variant: str = "lavdf", spec: VideoSpec = VideoSpec()
) -> Path:
    """LAV-DF (``variant="lavdf"``: one ``metadata.json``, splits train/dev/test) or AV-Deepfake1M
    (``"av1m"``: ``{train,val}_metadata.json`` and a ``test_metadata.json`` without labels) tree.
    Videos cycle through real, visual, audio and audio-visual fakes, each fake with its segment."""
    root = Path(out)
    mini = Mini(root, spec)
    seconds = spec.n_frames / spec.fps
    splits = ("train", "dev", "test") if variant == "lavdf" else ("train", "val", "test")
    entries: dict[str, list[dict]] = {s: [] for s in splits}
    for i in range(n_videos):
        split = splits[0] if i < n_videos // 2 else splits[1] if i < 3 * n_videos // 4 else splits[2]
        fake_video, fake_audio = ((0, 0), (1, 0), (0, 1), (1, 1))[i % 4]
        rel = f"{split}/{i:06d}.mp4"
        audio = mini._audio(80 + i, 8000 + i) if not fake_audio else mini._audio(81 + i, 8000 + i)
        if fake_video:
            mini.fake(root / rel, 80 + i, 81 + i, 8000 + i, "Deepfakes", audio=audio)
        else:
            write_video(root / rel, render(Identity.make(80 + i), spec, 8000 + i)[0], spec.fps, 23, audio)
        fake = bool(fake_video or fake_audio)
        entries[split].append({
            "file": rel, "split": split, "n_fakes": int(fake), "fake_periods": [[0.2, round(0.6 * seconds, 2)]] if fake else [],
            "modify_video": bool(fake_video), "modify_audio": bool(fake_audio),
            "video_frames": spec.n_frames, "audio_frames": int(seconds * SAMPLE_RATE),
        })  # fmt: skip
    if variant == "lavdf":
        (root / "metadata.json").write_text(json.dumps([e for s in splits for e in entries[s]], indent=1))
    else:
        for split in splits:
            rows = entries[split] if split != "test" else [{"file": e["file"]} for e in entries[split]]
            (root / f"{split}_metadata.json").write_text(json.dumps(rows, indent=1))
    return root


def _two_faces(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.concatenate([left, right], axis=2)


def make_dfd(out: str | Path, spec: VideoSpec = VideoSpec()) -> Path:
    """DFD in the FF++ tree, with scenes of two actors side by side: ``01__meeting`` (real, two
    faces), ``01_02__meeting__MASKED`` (the left actor's face swapped, with its mask video),
    ``03_04__meeting__NOMASK`` (swapped, no mask) and a one-actor real ``05__talking``."""
    root = Path(out)
    actors = root / "original_sequences" / "actors" / "c23" / "videos"
    fakes = root / "manipulated_sequences" / "DeepFakeDetection" / "c23" / "videos"
    masks = root / "manipulated_sequences" / "DeepFakeDetection" / "masks" / "videos"
    left, right = Identity.make(11), Identity.make(12)
    seed = 900
    real_left, boxes = render(left, spec, seed)
    real_right, _ = render(right, spec, seed + 1)
    write_video(actors / "01__meeting.mp4", _two_faces(real_left, real_right), spec.fps)
    swapped = fake_frames(left, Identity.make(13), spec, seed, "FaceSwap")
    write_video(fakes / "01_02__meeting__MASKED.mp4", _two_faces(swapped, real_right), spec.fps)
    mask = np.zeros_like(real_left)
    for t, (x1, y1, x2, y2) in enumerate(boxes):
        mask[t, int(y1) : int(y2), int(x1) : int(x2)] = 255
    write_video(masks / "01_02__meeting__MASKED.mp4", _two_faces(mask, np.zeros_like(mask)), spec.fps)
    left2, right2 = Identity.make(14), Identity.make(15)
    a, _ = render(right2, spec, seed + 3)
    write_video(fakes / "03_04__meeting__NOMASK.mp4",
                _two_faces(fake_frames(left2, Identity.make(16), spec, seed + 2, "FaceSwap"), a), spec.fps)  # fmt: skip
    Mini(root, spec).real(actors / "05__talking.mp4", 17, seed=seed + 5)
    return root


def make_celebdfpp(out: str | Path, spec: VideoSpec = VideoSpec()) -> Path:
    """Celeb-DF++ tree: reals as Celeb-DF v2, a fake in each scenario (``FaceSwap/SimSwap``,
    ``FaceReenact/LivePortrait``, ``TalkingFace/SadTalker``, the last shipped as face crops) and
    ``List_of_testing_videos.txt`` (1 = real)."""
    root = Path(out)
    mini = Mini(root, spec)
    mini.real(root / "Celeb-real" / "id0_0000.mp4", 20, seed=2000)
    mini.real(root / "Celeb-real" / "id1_0000.mp4", 21, seed=2001)
    mini.real(root / "YouTube-real" / "00000.mp4", 22, seed=2002)
    synthesis = root / "Celeb-synthesis"
    mini.fake(synthesis / "FaceSwap" / "SimSwap" / "id0_id1_0000.mp4", 20, 21, 2000, "FaceSwap")
    mini.fake(synthesis / "FaceReenact" / "LivePortrait" / "id1_id0_0000.mp4", 21, 20, 2001, "Deepfakes")
    crops = np.stack(face_crop_images(20, spec.n_frames, 2003, spec, "FaceSwap", size=128))
    write_video(synthesis / "TalkingFace" / "SadTalker" / "id0_0001.mp4", crops, spec.fps)
    (root / "List_of_testing_videos.txt").write_text(
        "1 Celeb-real/id1_0000.mp4\n0 Celeb-synthesis/FaceReenact/LivePortrait/id1_id0_0000.mp4\n"
        "0 Celeb-synthesis/TalkingFace/SadTalker/id0_0001.mp4\n"
    )
    return root


#: Each registered layout's mini tree (:data:`dfd.raw.layouts.MINI_TREES`): ``make_<name>``, by ``<name>``.
MAKERS: dict[str, Callable[..., Path]] = {
    name: globals()[target.rpartition(".")[2]] for name, target in MINI_TREES.items()
}
