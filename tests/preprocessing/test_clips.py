"""Clip mode: clips cut with aligned audio, short videos reported, each clip one face track with a
steady box, mini DFDC and FakeAVCeleb end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dfd.preprocessing.clips as clip_mode
from dfd.preprocessing.clips import cut_clips, process_video_clips, read_strip
from dfd.preprocessing.faces import Face
from dfd.preprocessing.manifest import read_manifest
from dfd.preprocessing.options import PreprocessOptions
from dfd.raw.audio import read_wav
from dfd.raw.records import VideoRecord
from dfd.training.tasks import train
from tests.conftest import compose_config


def test_cut_clips_aligns_audio_and_reports_short_videos(tmp_path: Path) -> None:
    crops = np.zeros((20, 16, 16, 3), np.uint8)
    crops[:, :, :, 0] = np.arange(20)[:, None, None] * 10  # frame index in the red channel
    audio = np.repeat(np.arange(20, dtype=np.float32) / 40, 640)  # 25 fps: 640 samples per frame
    rows = cut_clips(tmp_path, "v", crops, audio, 25.0, clip_len=8, clips_per_video=2, row={"label": 0})
    assert [r["frame_idx"] for r in rows] == [0, 12]
    strip = read_strip(tmp_path / rows[1]["crop_path"], 8)
    assert strip.shape == (8, 16, 16, 3) and list(strip[:, 0, 0, 0]) == [10 * i for i in range(12, 20)]
    seg = read_wav(tmp_path / rows[1]["audio_path"])
    assert len(seg) == 8 * 640 and abs(seg[0] - 12 / 40) < 1e-3 and abs(seg[-1] - 19 / 40) < 1e-3
    short = cut_clips(tmp_path, "s", crops[:5], audio, 25.0, clip_len=8, clips_per_video=2, row={"label": 1})
    assert len(short) == 1 and short[0]["status"] == "too_short" and short[0]["label"] == 1


class TwoPeople:
    """A stand-in face cropper for 40 frames of two people: the left one (grey 50, larger, drifting
    right by 1 px a frame) and the right one (grey 200), the more confident face alternating, so
    that a per-frame choice of the best face would jump between them."""

    min_score = 0.9

    def detect_all(self, frames: np.ndarray) -> list[list[Face]]:
        out = []
        for f in frames:
            t = int(f[0, 0, 0])  # the frame's index, written in its corner
            left = Face(box=(4.0 + t, 8.0, 44.0 + t, 56.0), score=0.95 if t % 2 else 0.99)
            right = Face(box=(100.0, 12.0, 130.0, 48.0), score=0.99 if t % 2 else 0.95)
            out.append([left, right])
        return out

    def crop(self, frame: np.ndarray, face: Face) -> np.ndarray:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        return np.ascontiguousarray(frame[y1:y2, x1:x2][:16, :16])


def test_av_clips_follow_one_face_track_with_its_median_box(tmp_path: Path, monkeypatch) -> None:
    frames = np.zeros((40, 64, 160, 3), np.uint8)
    frames[:, 8:60, 1:90] = 50  # the left person's area over all its drift
    frames[:, 8:60, 96:150] = 200
    frames[:, 0, 0, 0] = np.arange(40)
    monkeypatch.setattr(clip_mode, "video_timing", lambda path: (40, 25.0))
    monkeypatch.setattr(clip_mode, "read_audio", lambda path: np.zeros(40 * 640, np.float32))
    monkeypatch.setattr(
        clip_mode, "read_frames", lambda path, indices: (np.asarray(indices), frames[indices])
    )
    options = PreprocessOptions(clip_len=8, clips_per_video=2)
    for label in (0, 1):
        record = VideoRecord(path=tmp_path / f"v{label}.mp4", video_id=f"v{label}", label=label, method="m",
                             split="train", group="g", has_audio=True)  # fmt: skip
        rows = process_video_clips(record, tmp_path / "out", TwoPeople(), options)
        assert [r["frame_idx"] for r in rows] == [0, 32] and all(r["track"] == 0 for r in rows)
        assert all(r["label"] == label for r in rows)
        assert "main face track of 2" in rows[0]["reason"]
        for row in rows:
            strip = read_strip(tmp_path / "out" / row["crop_path"], 8)
            assert (strip[:, 1:, 1:] == 50).all()  # every frame the left person's face, never the right's
            # the steady box: the median of the left track's boxes over the clip's 8 frames
            assert row["x1"] == 4.0 + row["frame_idx"] + 3.5 and (row["y1"], row["y2"]) == (8.0, 56.0)


# -- real layouts in clip mode -----------------------------------------------------------------
@pytest.mark.slow
def test_mini_dfdc_clip_mode_preprocess_and_fast_dev_run(make_cfg, tmp_path: Path) -> None:
    """Preprocessing in clip mode on a generated DFDC tree, then AVFF with audio on it."""
    from dfd.data.synthetic.mini import make_dfdc
    from dfd.preprocessing.tasks import preprocess

    raw = make_dfdc(tmp_path / "raw", n_parts=2, originals_per_part=1, fakes_per_original=2, n_test=2)
    data = [
        "data=dfdc_av",
        f"data.raw_dir={raw}",
        f"data.root={tmp_path / 'clips'}",
        "data.layout.val_parts=[1]",
        "data.clip_len=8",
        "data.clips_per_video=2",
        "data.audio_frames=64",  # 8 frames at 12 fps = 667 ms of audio
    ]
    paths = [f"paths.{k}={tmp_path}" for k in ("root_dir", "data_dir", "log_dir", "output_dir", "work_dir")]
    pre = [*data, *paths, "data_name=dfdc_av", "preprocess.num_workers=0", "preprocess.cropper.crop_size=64"]
    cfg = compose_config("preprocess", pre)
    assert preprocess(cfg) == 8  # 2 parts × (1 real + 2 fakes) + 2 test videos
    rows, meta = read_manifest(tmp_path / "clips")
    assert meta["mode"] == "clip" and meta["clip_len"] == 8
    ok = rows[rows["status"] == "ok"]
    assert len(ok) == 16 and ok.groupby("video_id").size().eq(2).all()
    assert (ok["track"] == 0).all()  # each clip cut from its video's main face track
    strip = read_strip(tmp_path / "clips" / ok["crop_path"].iloc[0], 8)
    assert strip.shape == (8, 64, 64, 3)
    assert len(read_wav(tmp_path / "clips" / ok["audio_path"].iloc[0])) == round(8 / 12 * 16000)

    metrics = train(
        make_cfg([*data, "model=avff_tiny", "data.batch_size=4", "+trainer.fast_dev_run=true"], tiny=False)
    )
    assert {"val/auc", "test/auc"} <= set(metrics) and np.isfinite(metrics["test/loss"])


@pytest.mark.slow
def test_mini_fakeavceleb_clips_start_after_the_leading_silence(tmp_path: Path) -> None:
    """FakeAVCeleb's fake audio starts with 0.3 s of silence; trimmed clips start after it, in sync."""
    from dfd.data.synthetic.mini import make_fakeavceleb
    from dfd.preprocessing.tasks import preprocess

    raw = make_fakeavceleb(tmp_path / "raw", n_ids=2)
    paths = [f"paths.{k}={tmp_path}" for k in ("root_dir", "data_dir", "log_dir", "output_dir", "work_dir")]
    cfg = compose_config(
        "preprocess",
        [
            "data=fakeavceleb_av",
            f"data.raw_dir={raw}",
            f"data.root={tmp_path / 'clips'}",
            "data.clip_len=8",
            "data.clips_per_video=2",
            *paths,
            "data_name=fakeavceleb_av",
            "preprocess.num_workers=0",
            "preprocess.cropper.crop_size=32",
            "preprocess.trim_leading_silence=true",
        ],
    )
    assert preprocess(cfg) == 8  # 2 identities × categories A-D
    rows, meta = read_manifest(tmp_path / "clips")
    # the clips' frame rate and audio rate are recorded: the AV loader sizes its audio window from them
    assert meta["fps"] == 12.0 and meta["sample_rate"] == 16_000
    assert (rows.loc[rows["status"] == "ok", "fps"] == 12.0).all()
    first = rows[rows["status"] == "ok"].groupby("method")["frame_idx"].min()
    # 0.3 s at 12 fps = 3.6 frames: fake-audio videos (categories B, D) start at frame 4 or later
    fake_audio = [m for m in first.index if m.startswith(("RVFA", "FVFA"))]
    assert fake_audio and (first[fake_audio] >= 4).all(), first
    assert (first.drop(fake_audio) == 0).all(), first
