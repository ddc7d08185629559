"""Re-compression as an evaluation axis: any raw tree re-encoded with FF++'s H.264 recipe.

FaceForensics++ ships every video at ``raw`` (lossless), ``c23`` and ``c40``: the original H.264
stream re-encoded with libx264 at constant rate factor 23 or 40 (Rössler et al., ICCV 2019, and
the FaceForensics download script). :func:`recompress_tree` applies the same recipe to any raw
tree (H.264, ``yuv420p``, ``crf``, the source frame rate; the audio stream copied untouched), so
that c23 → c40 and cross-compression tests run on every dataset. Everything else in the tree (split
files, metadata, images) is copied as it is, and folder names that state FF++'s compression
(``raw``, ``c23``, ``c40``) are renamed to the new one, so the result reads with
``data.layout.compression=c<crf>``. Each video is written atomically; a rerun skips finished ones.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import av
from tqdm.auto import tqdm

from dfd.raw.records import VIDEO_EXTENSIONS

log = logging.getLogger(__name__)

#: FF++'s compression folder names
COMPRESSIONS = ("raw", "c23", "c40")


@dataclass
class RecompressSummary:
    """Counts of one run; ``failed`` maps a video's relative path to the reason."""

    encoded: int = 0
    skipped: int = 0
    copied: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"videos re-encoded: {self.encoded} ({self.skipped} already done)",
            f"other files copied: {self.copied}",
        ]
        out += [f"failed: {path}: {reason}" for path, reason in sorted(self.failed.items())]
        return out


def target_path(rel: Path, crf: int, rename_compression: bool = True) -> Path:
    """Where ``rel`` goes in the new tree: compression folder names become ``c<crf>``."""
    if not rename_compression:
        return rel
    return Path(*(f"c{crf}" if part in COMPRESSIONS else part for part in rel.parts))


def recompress_video(src: Path, dst: Path, crf: int, preset: str = "medium") -> None:
    """Re-encode ``src`` as H.264 at ``crf`` into ``dst`` (atomically), copying its audio stream."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp{dst.suffix}")
    try:
        with av.open(str(src)) as inp, av.open(str(tmp), "w", format=_container(dst)) as out:
            vin = inp.streams.video[0]
            ain = inp.streams.audio[0] if inp.streams.audio else None
            rate = vin.average_rate or vin.guessed_rate or 25
            vout = out.add_stream("libx264", rate=rate)
            vout.width, vout.height = vin.codec_context.width // 2 * 2, vin.codec_context.height // 2 * 2
            vout.pix_fmt = "yuv420p"
            vout.options = {"crf": str(crf), "preset": preset}
            aout = out.add_stream_from_template(ain) if ain is not None else None
            streams = [vin] + ([ain] if ain is not None else [])
            for packet in inp.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None and aout is not None:
                        packet.stream = aout
                        out.mux(packet)
                    continue
                for frame in packet.decode():
                    if (frame.width, frame.height) != (vout.width, vout.height):
                        frame = frame.reformat(width=vout.width, height=vout.height)
                    frame.pts = None
                    out.mux(vout.encode(frame))
            out.mux(vout.encode())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _container(path: Path) -> str | None:
    return {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".webm": "webm"}.get(
        path.suffix.lower()
    )


def recompress_tree(
    src: str | Path,
    out: str | Path,
    crf: int,
    rename_compression: bool = True,
    preset: str = "medium",
    progress: bool = True,
) -> RecompressSummary:
    """Re-encode every video of the tree ``src`` into ``out`` at ``crf``; copy every other file."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise FileNotFoundError(f"data.raw_dir={src} is not a folder")
    if out.resolve() == src.resolve() or out.resolve().is_relative_to(src.resolve()):
        raise ValueError(f"out={out} must lie outside the source tree {src}")
    if not 0 <= crf <= 51:
        raise ValueError(
            f"crf={crf}: libx264's constant rate factor is 0 (lossless) to 51; FF++ uses 23 and 40"
        )
    files = sorted(p for p in src.rglob("*") if p.is_file() and not p.name.startswith("."))
    videos = [p for p in files if p.suffix.lower() in VIDEO_EXTENSIONS]
    summary = RecompressSummary()
    for path in files:
        if path.suffix.lower() not in VIDEO_EXTENSIONS:
            dst = out / target_path(path.relative_to(src), crf, rename_compression)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst)
            summary.copied += 1
    for path in tqdm(
        videos, desc=f"recompress crf {crf}", unit="video", disable=not progress, dynamic_ncols=True
    ):
        rel = path.relative_to(src)
        dst = out / target_path(rel, crf, rename_compression)
        if dst.is_file():
            summary.skipped += 1
            continue
        try:
            recompress_video(path, dst, crf, preset)
            summary.encoded += 1
        except (av.error.FFmpegError, ValueError, IndexError) as err:  # unreadable: say so, go on
            summary.failed[str(rel)] = f"{type(err).__name__}: {err}"
            log.warning("could not re-encode %s: %s", rel, err)
    return summary
