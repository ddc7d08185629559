"""Keyframe detection: faces followed between keyframes land where per-frame detection puts them,
a cut to another face or to an empty frame is detected afresh (no stale box), keyframe_every=1 is
per-frame detection, and the crops written on the writer threads hold the same pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dfd.data.synthetic import mini
from dfd.data.synthetic.mini.media import Identity, render, render_no_face
from dfd.preprocessing.faces import Face, FaceCropper, box_iou
from dfd.preprocessing.frames import background_writes, process_video_frames
from dfd.preprocessing.keyframes import KeyframeTracker, detect_video
from dfd.preprocessing.options import PreprocessOptions
from dfd.raw.records import VideoRecord
from dfd.raw.video import read_frames

SPEC = mini.VideoSpec(224, 176, 48, 12)


@pytest.fixture(scope="module")
def tracker_cropper() -> FaceCropper:
    return FaceCropper(crop_size=64, keyframe_every=4)


@pytest.fixture(scope="module")
def face_frames() -> tuple[np.ndarray, np.ndarray]:
    """16 of 48 frames of a moving real face (the generator's pan and zoom), and its true boxes."""
    frames, boxes = render(Identity.make(0), SPEC, seed=3)
    return frames[::3], boxes[::3]


class Spy:
    """Counts the frames a cropper's ``detect_all`` sees."""

    def __init__(self, cropper: FaceCropper) -> None:
        self.cropper, self.frames = cropper, 0

    def __getattr__(self, name: str):
        return getattr(self.cropper, name)

    def detect_all(self, frames):
        self.frames += len(frames)
        return self.cropper.detect_all(frames)


def test_tracked_boxes_agree_with_per_frame_detection(tracker_cropper, face_frames):
    frames, truth = face_frames
    spy = Spy(tracker_cropper)
    tracked, per_frame = detect_video(spy, frames), tracker_cropper.detect_all(frames)
    assert spy.frames == 4  # only the keyframes 0, 4, 8, 12 were detected whole
    assert all(len(t) == len(p) == 1 for t, p in zip(tracked, per_frame, strict=True))
    ious = [box_iou(t[0].box, p[0].box) for t, p in zip(tracked, per_frame, strict=True)]
    assert np.mean(ious) >= 0.9 and min(ious) >= 0.75
    # as close to the face the generator drew as per-frame detection is
    to_truth = np.mean([box_iou(t[0].box, b) for t, b in zip(tracked, truth, strict=True)])
    assert to_truth >= np.mean([box_iou(p[0].box, b) for p, b in zip(per_frame, truth, strict=True)]) - 0.02
    assert all(t[0].score >= 0.9 and t[0].landmarks is not None and len(t[0].landmarks) == 5 for t in tracked)
    # chunks given in turn continue the same tracks: the faces of one call (to MTCNN's float32
    # rounding, which differs between batch sizes)
    tracker = KeyframeTracker(tracker_cropper)
    chunked = tracker(frames[:6]) + tracker(frames[6:11]) + tracker(frames[11:])
    assert np.allclose([fs[0].box for fs in chunked], [fs[0].box for fs in tracked], atol=1e-3)


def test_a_cut_to_another_face_or_to_no_face_is_detected_afresh(tracker_cropper, face_frames):
    frames, _ = face_frames
    other, _ = render(Identity.make(1), SPEC, seed=5)
    moved = np.roll(other[::3][:4], -72, axis=2)  # the other face, at the left edge
    empty = render_no_face(SPEC, seed=0)[:3]
    video = np.concatenate([frames[:5], moved, empty])  # keyframes 0, 4, 8: cuts at 5 and 9
    spy = Spy(tracker_cropper)
    found = detect_video(spy, video)
    assert spy.frames == 3 + 2  # keyframes, and the two frames where the track was lost
    per_frame = tracker_cropper.detect_all(video)
    (cut,) = found[5]
    assert box_iou(cut.box, per_frame[5][0].box) > 0.99  # that frame's own face...
    assert box_iou(cut.box, found[4][0].box) < 0.1  # ...not the box of the face before the cut
    assert all(len(fs) == 1 for fs in found[5:9]) and found[9:] == [[], [], []]


def test_keyframe_every_1_gives_per_frame_detection(face_frames):
    frames, _ = face_frames
    every = FaceCropper(crop_size=64, keyframe_every=1)
    assert detect_video(every, frames) == every.detect_all(frames)


def test_crops_written_on_writer_threads_are_the_crops_pixel_for_pixel(tracker_cropper, tmp_path: Path):
    frames, _ = render(Identity.make(0), mini.VideoSpec(224, 176, 12, 12), seed=1)
    path = mini.write_video(tmp_path / "v.mp4", frames, 12)
    record = VideoRecord(path=path, video_id="v", label=0, method="", split="train", group="g")
    rows = process_video_frames(record, tmp_path / "out", tracker_cropper, PreprocessOptions(num_frames=8))
    assert len(rows) == 8 and (tmp_path / "out" / "parts").is_dir()
    _, decoded = read_frames(path, indices=np.array([r["frame_idx"] for r in rows]))
    for row, frame in zip(rows, decoded, strict=True):
        crop = tracker_cropper.crop(
            frame, Face(box=(row["x1"], row["y1"], row["x2"], row["y2"]), score=row["score"])
        )
        file = tmp_path / "out" / row["crop_path"]
        assert np.array_equal(cv2.cvtColor(cv2.imread(str(file)), cv2.COLOR_BGR2RGB), crop)
        # the very bytes a write on the calling thread gives
        assert file.read_bytes() == cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))[1].tobytes()
    assert not list((tmp_path / "out").rglob("*.tmp*"))  # every write was renamed into place
    # written in the background while the runner goes on: the same files, and the part once they are
    with background_writes():
        again = process_video_frames(
            record, tmp_path / "bg", tracker_cropper, PreprocessOptions(num_frames=8)
        )
    assert again == rows and (tmp_path / "bg" / "parts").is_dir()
    for row in rows:
        assert (tmp_path / "bg" / row["crop_path"]).read_bytes() == (
            tmp_path / "out" / row["crop_path"]
        ).read_bytes()
