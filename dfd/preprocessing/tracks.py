"""Face tracks: the faces of a video's sampled frames linked into one track per person.

A video with several people is scored per person (face track), so that a swapped face is not
averaged away with an untouched one, and preprocessing crops per track, so that a video's crops
never jump from one person to another (:func:`main_track`, :func:`mask_coverage`). Faces are linked greedily, most confident first, to the
track whose latest box overlaps theirs most (IoU at least ``min_iou``); a face that overlaps
no track starts a new one. Sampled frames are far apart in time (32 per video), so the
threshold is low: faces move between samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dfd.preprocessing.faces import Face


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    """One person's faces: ``(position of the frame among the sampled frames, face)`` in order."""

    faces: list[tuple[int, Face]] = field(default_factory=list)

    @property
    def last_box(self) -> tuple[float, float, float, float]:
        return self.faces[-1][1].box

    @property
    def mean_area(self) -> float:
        return float(np.mean([(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for _, f in self.faces]))


def track_faces(frames: Sequence[Sequence[Face]], min_iou: float = 0.2) -> list[Track]:
    """Link each frame's faces into tracks; tracks come out longest first."""
    tracks: list[Track] = []
    for t, faces in enumerate(frames):
        taken: set[int] = set()
        for face in sorted(faces, key=lambda f: -f.score):
            scores = [
                (iou(track.last_box, face.box), k)
                for k, track in enumerate(tracks)
                if k not in taken and track.faces[-1][0] < t
            ]
            best = max(scores, default=(0.0, -1))
            if best[0] >= min_iou:
                tracks[best[1]].faces.append((t, face))
                taken.add(best[1])
            else:
                tracks.append(Track([(t, face)]))
                taken.add(len(tracks) - 1)
    return sorted(tracks, key=lambda tr: -len(tr.faces))


def main_track(tracks: Sequence[Track]) -> int:
    """The index of the most persistent track (most frames), the largest on a tie."""
    return max(range(len(tracks)), key=lambda k: (len(tracks[k].faces), tracks[k].mean_area))


def mask_coverage(track: Track, masks: Sequence[np.ndarray | None], threshold: int = 127) -> float:
    """The mean fraction of the track's boxes that a manipulation mask marks (``masks[t]`` is the
    mask frame at the track's sampled position ``t``, any channel count, None where the mask video
    has no such frame; > ``threshold`` is marked)."""
    fractions = []
    for t, face in track.faces:
        if t >= len(masks) or masks[t] is None:
            continue
        mask = masks[t] if masks[t].ndim == 2 else masks[t].max(axis=-1)
        h, w = mask.shape[:2]
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        patch = mask[max(0, y1) : min(h, y2), max(0, x1) : min(w, x2)]
        if patch.size:
            fractions.append(float((patch > threshold).mean()))
    return float(np.mean(fractions)) if fractions else 0.0
