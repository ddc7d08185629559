"""Keyframe detection: the faces of a video's sampled frames for a fraction of per-frame detection.

The detector runs on whole frames only at keyframes: every ``keyframe_every``-th sampled frame,
from the first. Between two keyframes each face is followed by the cropper's ``refine``: MTCNN's
last stage (O-Net) on the square around the box the face is expected at, which regresses the
face's box, scores it and gives its five landmarks from one 48 px input instead of the whole
detection cascade on the frame. The expected box is the face's box at the keyframe before,
moved linearly towards its box at the keyframe after when the same face is there (IoU match);
the regression runs twice (the second time from the first's box). Faces seen only at the
keyframe after are followed backwards from it the same way.

A track is lost in a frame when the refined face scores under ``min_score`` or overlaps the
expected box by less than :data:`MIN_TRACK_IOU`; that frame is then detected whole, like a
keyframe, so a cut to another face or to an empty frame gives that frame's own faces, never a
stale box. A face that enters between two keyframes is found at the next keyframe (and followed
backwards from there); one that comes and goes between two keyframes is missed.

Every box comes from the detector's network on that frame, with its score and five landmarks, in
the structure ``detect_all`` returns (per frame, faces most confident first), so face tracks
(:mod:`dfd.preprocessing.tracks`), masks and alignment work unchanged. On the mini generator's
moving faces (854x480, 32 of 250 frames) the boxes are as close to the true face box as
per-frame detection's (mean IoU 0.933 against 0.922) and agree with it at mean IoU 0.93, within
MTCNN's own scatter between image scales; details and the MTCNN-on-a-region alternative, measured
slower, are in ``docs/performance.md``.

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

#: a refined face continues its track when its box overlaps the expected one at least this much
MIN_TRACK_IOU = 0.3
#: the same face at two keyframes: boxes overlapping at least this much (faces move between samples)
MIN_KEY_IOU = 0.2
#: O-Net regressions per face and frame, each from the last one's box
REFINE_PASSES = 2


def detect_video(cropper: Any, frames: np.ndarray | Sequence[np.ndarray]) -> list[list[Face]]:
    """Every face of each frame of one video, in time order, as ``cropper.detect_all`` gives them:
    detected whole at keyframes (every ``cropper.keyframe_every``-th frame) and followed between
    them (see the module docstring)."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    every = int(getattr(cropper, "keyframe_every", 1) or 1)
    n = len(frames)
    if every <= 1 or n <= 1 or not hasattr(cropper, "refine"):
        return cropper.detect_all(frames)
    keys = list(range(0, n, every))
    found: list[list[Face] | None] = [None] * n
    for k, faces in zip(keys, cropper.detect_all(frames[keys]), strict=True):
        found[k] = list(faces)
    jobs: list[tuple[int, tuple[float, ...]]] = []  # (frame, expected box)
    for j, k in enumerate(keys):
        end = keys[j + 1] if j + 1 < len(keys) else n
        before = found[k] or []
        after = (found[end] or []) if end < n else []
        pairs = _match(before, after)
        for a, face in enumerate(before):
            partner = after[pairs[a]] if a in pairs else None
            for t in range(k + 1, end):
                w = (t - k) / (end - k)
                jobs.append((t, face.box if partner is None else _lerp(face.box, partner.box, w)))
        for b, face in enumerate(after):  # seen only at the next keyframe: followed backwards
            if b not in pairs.values():
                jobs += [(t, face.box) for t in range(k + 1, end)]
    followed = _follow(cropper, frames, jobs)
    for t, faces in followed.items():
        found[t] = faces
    lost = [t for t, faces in followed.items() if faces is None]
    if lost:
        for t, faces in zip(lost, cropper.detect_all(frames[lost]), strict=True):
            found[t] = list(faces)
    return [f or [] for f in found]  # no face at the keyframes around: none followed


def _match(before: Sequence[Face], after: Sequence[Face]) -> dict[int, int]:
    """Greedy one-to-one IoU match of two keyframes' faces: ``{index in before: index in after}``."""
    pairs = sorted(
        ((iou(a.box, b.box), i, j) for i, a in enumerate(before) for j, b in enumerate(after)), reverse=True
    )
    out: dict[int, int] = {}
    for overlap, i, j in pairs:
        if overlap < MIN_KEY_IOU:
            break
        if i not in out and j not in out.values():
            out[i] = j
    return out


def _lerp(a: Sequence[float], b: Sequence[float], w: float) -> tuple[float, ...]:
    return tuple((1.0 - w) * x + w * y for x, y in zip(a, b, strict=True))


def _follow(
    cropper: Any, frames: np.ndarray, jobs: list[tuple[int, tuple[float, ...]]]
) -> dict[int, list[Face] | None]:
    """Refine each job's expected box; per frame with jobs its faces (most confident first), or
    None when a track was lost there (the frame is then detected whole)."""
    boxes = [expected for _, expected in jobs]
    faces: list[Face | None] = [None] * len(jobs)
    todo = list(range(len(jobs)))
    for _ in range(REFINE_PASSES):
        if not todo:
            break
        got = cropper.refine([frames[jobs[j][0]] for j in todo], [boxes[j] for j in todo])
        for j, face in zip(todo, got, strict=True):
            faces[j] = face
            if face is not None:
                boxes[j] = face.box
        todo = [j for j in todo if faces[j] is not None]
    out: dict[int, list[Face] | None] = {}
    for (t, expected), face in zip(jobs, faces, strict=True):
        if t in out and out[t] is None:
            continue
        if face is None or iou(face.box, expected) < MIN_TRACK_IOU:
            out[t] = None  # lost: the frame is detected whole
            continue
        kept = out.setdefault(t, [])
        assert kept is not None
        if all(iou(face.box, f.box) < 0.5 for f in kept):  # two tracks converging on one face
            kept.append(face)
    for found in out.values():
        if found is not None:
            found.sort(key=lambda f: -f.score)
    return out
