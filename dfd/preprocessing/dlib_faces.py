"""DeepfakeBench's face finder: dlib's HOG detector, five of the 68 landmarks, an aligned crop.

DeepfakeBench (Yan et al., "DeepfakeBench: A Comprehensive Benchmark of Deepfake Detection",
NeurIPS 2023 Datasets and Benchmarks; its ``preprocessing/preprocess.py`` was read for the rule)
crops each sampled frame so: dlib's HOG frontal face detector (Dalal & Triggs, CVPR 2005; dlib's
``get_frontal_face_detector``, the frame upsampled once) on the RGB frame; the largest face; dlib's
shape predictor on that face's detector box; five of its points (37 and 44, the upper eyelids; 30,
the nose tip; 49 and 55, beside the mouth corners) mapped by a least-squares similarity onto the
standard 5-point template at 1.3× scale in a 256 px crop; the frame warped bilinearly, black
outside. :class:`DlibFaceCropper` does the same with the 68-point model dfd ships
(``preprocess.landmarks=dlib68``, :mod:`dfd.preprocessing.landmarks`) where DeepfakeBench uses an
81-point one: the 81-point markup is the 68-point one plus 13 forehead points after them, so the
five indices name the same places. ``preprocess=deepfakebench`` uses it; ``docs/protocols.md``
tables what still differs.

It has :class:`~dfd.preprocessing.faces.FaceCropper`'s interface as preprocessing uses it
(``detect_all``, ``choose``, ``crop``, ``crop_matrix``, ``settings``...), so the frame runner,
its face tracks and its mask-guided choice work unchanged. It holds only settings, so it pickles
into spawn workers; the detector and the predictor are loaded once per process.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from dfd.preprocessing.faces import (
    SELECTORS,
    Face,
    choose_face,
    similarity_transform,
    template_points,
    warp_crop,
)
from dfd.preprocessing.landmarks import dlib68_model_path, load_predictor

#: DeepfakeBench's five alignment points among dlib's landmarks (``get_keypts`` there): left upper
#: eyelid, right upper eyelid, nose tip, left and right of the mouth, in the template's order.
DEEPFAKEBENCH_POINTS = (37, 44, 30, 49, 55)
#: How the manifest's ``detector`` names this cropper (what ``dfd.predict`` recognises it by).
DETECTOR_NAME = "dlib HOG frontal face detector"
#: Side of the HOG detector's window, px: the smallest face it finds before upsampling.
HOG_WINDOW = 80


def deepfakebench_points(landmarks: np.ndarray) -> np.ndarray:
    """DeepfakeBench's five alignment points from dlib's 68 (or 81) landmarks ``[K, 2]``."""
    return np.asarray(landmarks, np.float64)[list(DEEPFAKEBENCH_POINTS)]


@functools.cache
def hog_detector() -> Any:
    """dlib's HOG frontal face detector, built once per process."""
    try:
        import dlib
    except ImportError:
        raise ModuleNotFoundError(
            "preprocess=deepfakebench needs dlib, which is not installed: pip install 'dfd[landmarks]'"
        ) from None
    return dlib.get_frontal_face_detector()


class DlibFaceCropper:
    """Find faces with dlib's HOG detector and crop them aligned on five of their 68 landmarks.

    Args:
        crop_size: side of the saved square crop, px (DeepfakeBench: 256).
        align_scale: how much context the crop holds around the template face (DeepfakeBench: 1.3).
        upsample: times the frame is upsampled before detection (each halves the smallest face
            found, 80 px at 0; DeepfakeBench: 1).
        select: ``largest`` (DeepfakeBench) or ``confident`` face of a frame.
        min_score: the HOG detector's threshold on its detection score (dlib's ``adjust_threshold``;
            0 is dlib's default, which DeepfakeBench uses).
    """

    #: always aligned on landmarks (the runner and the manifest's ``landmarks`` column ask)
    align = True

    def __init__(
        self,
        crop_size: int = 256,
        align_scale: float = 1.3,
        upsample: int = 1,
        select: str = "largest",
        min_score: float = 0.0,
    ) -> None:
        if select not in SELECTORS:
            raise ValueError(
                f"select={select!r}: expected one of {sorted(SELECTORS)} (preprocess.cropper.select)"
            )
        if align_scale <= 0:
            raise ValueError(f"align_scale={align_scale} must be > 0 (preprocess.cropper.align_scale)")
        if upsample < 0:
            raise ValueError(f"upsample={upsample} must be >= 0 (preprocess.cropper.upsample)")
        self.crop_size = int(crop_size)
        self.align_scale = float(align_scale)
        self.upsample = int(upsample)
        self.select = select
        self.min_score = float(min_score)
        hog_detector()  # a missing dlib or model fails here, at start-up, not in a worker
        load_predictor(str(dlib68_model_path()))

    def settings(self) -> dict[str, Any]:
        """What the manifest records about how crops were made."""
        return {
            "detector": f"{DETECTOR_NAME} (upsample {self.upsample}), 68-point landmarks "
            f"{list(DEEPFAKEBENCH_POINTS)}",
            "crop_size": self.crop_size,
            "select": self.select,
            "min_score": self.min_score,
            "align": True,
            "align_scale": self.align_scale,
        }

    #: frames handed to :meth:`detect_all` at once by ``dfd.predict`` (dlib detects one frame at a time)
    batch_size = 32
    #: frames are searched at full resolution (no downscaling before detection, as DeepfakeBench)
    detect_max_side = None

    @property
    def min_face_size(self) -> int:
        """The smallest face the detector finds, px: its 80 px window halved by each upsampling."""
        return max(1, HOG_WINDOW // 2**self.upsample)

    def detect_size(self, height: int, width: int) -> tuple[int, int]:
        """``(height, width)`` of a frame as the detector sees it: unchanged."""
        return height, width

    def can_detect(self, height: int, width: int) -> bool:
        """Whether a frame of this size can hold the smallest face the detector finds."""
        return min(height, width) * 2**self.upsample >= HOG_WINDOW

    @classmethod
    def from_record(cls, fp: dict[str, Any]) -> DlibFaceCropper:
        """The cropper that made crops recorded as ``fp`` (a manifest's or an exported model's
        preprocessing record, whose ``detector`` names this cropper)."""
        detector = str(fp.get("detector", ""))
        if not detector.startswith(DETECTOR_NAME):
            raise ValueError(f"the crops were made by {detector!r}, not by {DETECTOR_NAME}")
        upsample = re.search(r"upsample (\d+)", detector)
        return cls(
            crop_size=int(fp.get("crop_size", 256)),
            align_scale=float(fp.get("align_scale", 1.3)),
            upsample=int(upsample[1]) if upsample else 1,
            select=str(fp.get("select", "largest")),
            min_score=float(fp.get("min_score", 0.0)),
        )

    def detect_all(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[list[Face]]:
        """Every face the HOG detector finds in each RGB uint8 frame, highest score first: its box
        (dlib's rectangle, corners in px), score, and the 68 landmarks (frame px) the predictor
        places from that box (the crop aligns on five of them; ``preprocess.landmarks=dlib68``
        stores them all)."""

        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        detector, predictor = hog_detector(), load_predictor(str(dlib68_model_path()))
        out: list[list[Face]] = []
        for frame in frames:
            frame = np.ascontiguousarray(frame)
            rects, scores, _ = detector.run(frame, self.upsample, self.min_score)
            faces = []
            for rect, score in sorted(zip(rects, scores, strict=True), key=lambda rs: -rs[1]):
                shape = predictor(frame, rect)
                points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
                faces.append(
                    Face(
                        box=(
                            float(rect.left()),
                            float(rect.top()),
                            float(rect.right()),
                            float(rect.bottom()),
                        ),
                        score=float(score),
                        landmarks=tuple((float(x), float(y)) for x, y in points),
                    )
                )
            out.append(faces)
        return out

    def detect(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[Face | None]:
        """The one face (``select``) or None per RGB uint8 frame."""
        return [self.choose(found) for found in self.detect_all(frames)]

    def choose(self, faces: Sequence[Face]) -> Face | None:
        """The face ``select`` keeps among a frame's faces."""
        return choose_face(faces, self.select)

    def crop_matrix(self, frame_shape: tuple[int, ...], face: Face) -> np.ndarray:
        """The 2×3 similarity taking frame px to crop px: the face's five alignment points
        (:data:`DEEPFAKEBENCH_POINTS` of its 68) onto the template."""
        if face.landmarks is None or len(face.landmarks) not in (5, 68):
            raise ValueError(
                "the dlib cropper aligns on five of a face's 68 landmarks and this face has "
                f"{0 if face.landmarks is None else len(face.landmarks)} (boxes reused from a manifest made by "
                "another cropper?): preprocess with preprocess.reuse_source_boxes=false"
            )
        points = np.asarray(face.landmarks, np.float64)
        five = deepfakebench_points(points) if len(points) == 68 else points
        return similarity_transform(five, template_points(self.crop_size, self.align_scale))

    def crop(self, frame: np.ndarray, face: Face) -> np.ndarray:
        """The ``crop_size`` px aligned RGB crop of ``face`` (bilinear, black outside the frame)."""
        return warp_crop(frame, self.crop_matrix(frame.shape, face), self.crop_size)
