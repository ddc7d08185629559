"""Keyframe detection: the faces of a video's sampled frames for a fraction of per-frame detection.

The detector runs on whole frames only at keyframes: every ``keyframe_every``-th sampled frame,
from the first. Between keyframes each face is followed from its box in the frame before by the
cropper's ``refine``: MTCNN's last stage (O-Net) on the square around that box, which regresses
the face's box, scores it and gives its five landmarks from one 48 px input instead of the whole
detection cascade on the frame (twice: the second time from the first's box). Frames are taken
in order and the state carries over from one call to the next (:class:`KeyframeTracker`), so a
video decoded in chunks (``dfd.predict`` under its pixel budget) gives the faces it gives decoded
at once.

A track is lost in a frame when the refined face scores under ``min_score`` or overlaps its box
in the frame before by less than :data:`MIN_TRACK_IOU`; that frame is then detected whole, like
a keyframe, so a cut to another face or to an empty frame gives that frame's own faces, never a
stale box. A face entering between two keyframes is found at the next keyframe (or at a re-detect).

Every box comes from the detector's network on that frame, with its score and five landmarks, in
the structure ``detect_all`` returns (per frame, faces most confident first), so face tracks
(:mod:`dfd.preprocessing.tracks`), masks and alignment work unchanged. On the mini generator's
moving faces (854x480, 32 of 250 frames) the boxes are as close to the true face box as
per-frame detection's and agree with it at mean IoU 0.93, within MTCNN's own scatter between
image scales; figures, and the MTCNN-on-a-region alternative (measured slower), are in
``docs/performance.md``.

Whether crops are tracked is a speed setting, not a crop setting: the box rule (detector, margin,
crop size, detection resolution, face choice) is the same, and the tracked boxes sit where the
detector puts faces. So ``keyframe_every`` is recorded with the crops and taken by ``dfd.predict``
from a model's preprocessing record (:mod:`dfd.preprocessing.fingerprint`), but a difference is
not warned about, and manifests made before it (per-frame detection) load as they are.

A cropper without ``refine`` (or with ``keyframe_every`` absent or 1) detects every frame with
``detect_all``, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dfd.preprocessing.faces import Face
from dfd.preprocessing.tracks import iou

#: a refined face continues its track when its box overlaps the one it was followed from at least this much
MIN_TRACK_IOU = 0.3
#: O-Net regressions per face and frame, each from the last one's box
REFINE_PASSES = 2
#: two followed faces overlapping more than this are one face (tracks converging)
SAME_FACE_IOU = 0.5


class KeyframeTracker:
    """The faces of one video's sampled frames, given in order over one or more calls."""

    def __init__(self, cropper: Any) -> None:
        self.cropper = cropper
        every = int(getattr(cropper, "keyframe_every", 1) or 1)
        self.every = every if hasattr(cropper, "refine") else 1
        self.position = 0  # sampled frames seen so far
        self.last: list[Face] = []  # faces of the frame before

    def __call__(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[list[Face]]:
        """Every face of each frame (the video's next ones), as ``cropper.detect_all`` gives them."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        n, start = len(frames), self.position
        self.position += n
        if self.every <= 1:
            return self.cropper.detect_all(frames)
        keys = [t for t in range(n) if (start + t) % self.every == 0]
        detected = dict(zip(keys, self.cropper.detect_all(frames[keys]), strict=True)) if keys else {}
        out: list[list[Face]] = []
        for t in range(n):
            if t in detected:
                faces = list(detected[t])
            elif not self.last:
                faces = []  # nothing to follow: a new face is found at the next keyframe
            else:
                faces = self._follow(frames[t])
                if faces is None:  # lost: this frame is detected whole
                    (faces,) = self.cropper.detect_all(frames[t][None])
                    faces = list(faces)
            out.append(faces)
            self.last = faces
        return out

    def _follow(self, frame: np.ndarray) -> list[Face] | None:
        """The faces of the frame before, refined in ``frame``; None when one of them is lost."""
        boxes = [f.box for f in self.last]
        found: list[Face | None] = list(self.last)
        for _ in range(REFINE_PASSES):
            refined = self.cropper.refine([frame] * len(boxes), boxes)
            if any(f is None for f in refined):
                return None
            found, boxes = refined, [f.box for f in refined]  # type: ignore[union-attr]
        kept: list[Face] = []
        for before, face in zip(self.last, found, strict=True):
            assert face is not None
            if iou(face.box, before.box) < MIN_TRACK_IOU:
                return None
            if all(iou(face.box, k.box) <= SAME_FACE_IOU for k in kept):
                kept.append(face)
        return sorted(kept, key=lambda f: -f.score)


def detect_video(cropper: Any, frames: np.ndarray | Sequence[np.ndarray]) -> list[list[Face]]:
    """Every face of each frame of one video (all its sampled frames, in time order), as
    ``cropper.detect_all`` gives them: detected whole at keyframes, followed between them."""
    return KeyframeTracker(cropper)(frames)
