"""The one face-cropping function of dfd, shared by preprocessing and inference.

Faces are found with MTCNN (Zhang et al., "Joint Face Detection and Alignment using Multi-task
Cascaded Convolutional Networks", IEEE SPL 2016; the facenet-pytorch implementation) on frames
downscaled to at most ``detect_max_side`` px, and the boxes are mapped back to full resolution.
The crop is a square of side ``(1 + margin) ×`` the larger box side, centred on the box, padded
with black where it leaves the frame, then resized to ``crop_size`` px. The default margin of 20%
follows the FF++ pipeline in the seeds. A train/inference mismatch in exactly this step is what
broke that system: training on whole frames, inferring on crops. So :func:`crop_video` and
:meth:`FaceCropper.crop_image` are what both ``dfd.preprocess`` and single-video/image inference
call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from dfd.raw.video import read_frames


@dataclass(frozen=True)
class Face:
    """A detected face: box ``(x1, y1, x2, y2)`` in full-frame pixels, detector ``score`` and, when
    the detector gave them, its landmarks, px: MTCNN's five (left eye, right eye, nose, mouth
    corners), or the 68 of the dlib cropper (:mod:`dfd.preprocessing.dlib_faces`)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: tuple[tuple[float, float], ...] | None = None


#: The standard 5-point face template for 112×112 crops (left eye, right eye, nose tip, left and
#: right mouth corners), as ArcFace (Deng et al., CVPR 2019) and DeepfakeBench's aligned crops use it.
TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


def template_points(size: int, scale: float) -> np.ndarray:
    """Where the five landmarks go in a ``size`` px aligned crop holding ``scale`` × the template's
    face (1.3: 30% context), centred as DeepfakeBench's ``img_align_crop`` places them."""
    return (TEMPLATE_112 / 112.0 - 0.5) / scale * size + size / 2.0


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2×3 similarity (rotation, uniform scale, translation) taking ``src`` points onto
    ``dst`` in the least-squares sense (Umeyama's estimate, scikit-image's)."""
    from skimage.transform import SimilarityTransform

    fitted = SimilarityTransform.from_estimate(np.asarray(src, np.float64), np.asarray(dst, np.float64))
    if not fitted:
        raise ValueError(
            f"no similarity maps the landmarks {np.asarray(src).tolist()} onto the template (degenerate)"
        )
    return fitted.params[:2]


def warp_crop(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` px square crop the 2×3 frame→crop ``matrix`` makes of ``frame``: bilinear,
    black outside the frame (the aligned crops of :class:`FaceCropper` and the dlib cropper)."""
    return cv2.warpAffine(frame, np.asarray(matrix, np.float64), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip


def _most_confident(boxes: np.ndarray, scores: np.ndarray) -> int:
    return int(np.argmax(scores))


def _largest(boxes: np.ndarray, scores: np.ndarray) -> int:
    return int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))


#: ``FaceCropper(select=...)``: which face to keep when a frame has several.
SELECTORS: dict[str, Callable[[np.ndarray, np.ndarray], int]] = {
    "confident": _most_confident,
    "largest": _largest,
}


def choose_face(faces: Sequence[Face], select: str) -> Face | None:
    """The face the ``select`` rule (:data:`SELECTORS`) keeps among a frame's faces; None for none."""
    if not faces:
        return None
    boxes = np.array([f.box for f in faces], dtype=np.float64)
    scores = np.array([f.score for f in faces], dtype=np.float64)
    return faces[SELECTORS[select](boxes, scores)]


class FaceCropper:
    """Detect the main face per frame and crop it.

    Args:
        margin: fraction of the larger box side added around the face (0.2 = 20%).
        crop_size: side of the saved square crop, px.
        detect_max_side: frames are downscaled so their longer side is at most this (px)
            before detection; boxes are mapped back to full resolution.
        select: ``confident`` (highest MTCNN score) or ``largest`` face.
        min_score: faces scored below this are ignored.
        min_face_size: MTCNN's smallest face, px in the downscaled frame.
        align: crop by a similarity transform of MTCNN's five landmarks onto the standard 5-point
            template (:data:`TEMPLATE_112`) instead of a box with a margin: DeepfakeBench's aligned
            protocol, so results compare with papers that used it. ``margin`` is then unused.
        align_scale: with ``align``, how much context the crop holds around the template face (1.3).
        batch_size: frames per MTCNN call.
        device: torch device for MTCNN.
        keyframe_every: in a video's sampled frames, detect on whole frames only every this many
            frames and follow the faces in between with MTCNN's last stage (:meth:`refine`,
            :mod:`dfd.preprocessing.keyframes`); 1 detects every frame. A speed setting: the
            tracked boxes agree with per-frame detection within MTCNN's own scatter.
    """

    def __init__(
        self,
        margin: float = 0.2,
        crop_size: int = 256,
        detect_max_side: int = 640,
        select: str = "confident",
        min_score: float = 0.9,
        min_face_size: int = 40,
        batch_size: int = 32,
        device: str = "cpu",
        align: bool = False,
        align_scale: float = 1.3,
        keyframe_every: int = 8,
    ) -> None:
        from facenet_pytorch import MTCNN

        if select not in SELECTORS:
            raise ValueError(
                f"select={select!r}: expected one of {sorted(SELECTORS)} (preprocess.cropper.select)"
            )
        if margin < 0:
            raise ValueError(f"margin={margin} must be >= 0 (preprocess.cropper.margin)")
        if int(keyframe_every) < 1:
            raise ValueError(
                f"keyframe_every={keyframe_every} must be >= 1 (preprocess.cropper.keyframe_every; 1 detects every frame)"
            )
        if align_scale <= 0:
            raise ValueError(f"align_scale={align_scale} must be > 0 (preprocess.cropper.align_scale)")
        self.margin = margin
        self.align = bool(align)
        self.align_scale = float(align_scale)
        self.crop_size = crop_size
        self.detect_max_side = detect_max_side
        self.select = select
        self.min_score = min_score
        self.min_face_size = min_face_size
        self.batch_size = batch_size
        self.keyframe_every = int(keyframe_every)
        self.mtcnn = MTCNN(
            keep_all=True, min_face_size=min_face_size, post_process=False, device=torch.device(device)
        )
        self.mtcnn.eval()

    def settings(self) -> dict:
        """What the manifest records about how crops were made."""
        return {
            "detector": "facenet-pytorch MTCNN",
            "margin": self.margin,
            "crop_size": self.crop_size,
            "detect_max_side": self.detect_max_side,
            "select": self.select,
            "min_score": self.min_score,
            "min_face_size": self.min_face_size,
            "align": self.align,
            "align_scale": self.align_scale,
            "keyframe_every": self.keyframe_every,
        }

    def detect_size(self, height: int, width: int) -> tuple[int, int]:
        """``(height, width)`` of a frame as the detector sees it (downscaled to ``detect_max_side``)."""
        scale = min(1.0, self.detect_max_side / max(height, width))
        return (
            (max(1, round(height * scale)), max(1, round(width * scale))) if scale < 1.0 else (height, width)
        )

    def can_detect(self, height: int, width: int) -> bool:
        """Whether a frame of this size can hold a face of ``min_face_size`` px once downscaled
        (MTCNN's first scale, as facenet-pytorch computes it); MTCNN fails on smaller frames."""
        return min(self.detect_size(height, width)) * (12.0 / self.min_face_size) >= 12

    @torch.inference_mode()
    def detect_all(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[list[Face]]:
        """Every face scored at least ``min_score`` in each RGB uint8 frame (frames share one size),
        most confident first; boxes in full-frame pixels. Frames too small to hold a face of
        ``min_face_size`` px (:meth:`can_detect`) have none."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        n, h, w = frames.shape[:3]
        if not self.can_detect(h, w):
            return [[] for _ in range(n)]
        scale = min(1.0, self.detect_max_side / max(h, w))
        faces: list[list[Face]] = []
        for start in range(0, n, self.batch_size):
            batch = frames[start : start + self.batch_size]
            if scale < 1.0:
                dsize = (max(1, round(w * scale)), max(1, round(h * scale)))
                batch = np.stack([cv2.resize(f, dsize, interpolation=cv2.INTER_AREA) for f in batch])
            boxes, probs, points = self.mtcnn.detect(batch, landmarks=True)
            for b, p, pts in zip(boxes, probs, points, strict=True):
                faces.append(self._kept(b, p, scale, pts))
        return faces

    @torch.inference_mode()
    def refine(self, frames: Sequence[np.ndarray], boxes: Sequence[Sequence[float]]) -> list[Face | None]:
        """The face near each box, one box per RGB frame: MTCNN's last stage (O-Net) on the square
        around the box, cut from the full-resolution frame, gives the face's box (regressed from
        that square, as MTCNN regresses its own candidates), score and five landmarks; None where
        the score is under ``min_score`` (no face there). Keyframe tracking follows faces with it
        (:mod:`dfd.preprocessing.keyframes`)."""
        if not len(boxes):
            return []
        squares, cuts = [], []
        for frame, box in zip(frames, boxes, strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            side = max(x2 - x1, y2 - y1)
            left, top = int(x1 + (x2 - x1) / 2 - side / 2), int(y1 + (y2 - y1) / 2 - side / 2)
            right, bottom = left + int(side), top + int(side)
            squares.append((left, top, right, bottom))
            cuts.append(_padded_cut(frame, left - 1, top - 1, right - left + 1, ONET_SIZE))
        data = torch.from_numpy(np.stack(cuts)).permute(0, 3, 1, 2).float()
        reg, points, probs = self.mtcnn.onet((data - 127.5) * 0.0078125)
        reg, points, probs = reg.numpy(), points.numpy(), probs[:, 1].numpy()
        out: list[Face | None] = []
        for (left, top, right, bottom), r, pts, p in zip(squares, reg, points, probs, strict=True):
            if p < self.min_score:
                out.append(None)
                continue
            w, h = right - left + 1, bottom - top + 1
            out.append(Face(box=(left + r[0] * w, top + r[1] * h, right + r[2] * w, bottom + r[3] * h), score=float(p),
                            landmarks=tuple((float(w * pts[i] + left - 1), float(h * pts[i + 5] + top - 1)) for i in range(5))))  # fmt: skip
        return out

    def detect(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[Face | None]:
        """The one face (``select``) or None per RGB uint8 frame; frames must share one size."""
        return [self.choose(found) for found in self.detect_all(frames)]

    def choose(self, faces: Sequence[Face]) -> Face | None:
        """The face ``select`` keeps among a frame's faces."""
        return choose_face(faces, self.select)

    def _kept(
        self,
        boxes: np.ndarray | None,
        probs: np.ndarray | None,
        scale: float,
        points: np.ndarray | None = None,
    ) -> list[Face]:
        if boxes is None or len(boxes) == 0:
            return []
        probs = np.asarray(probs, dtype=np.float64)
        keep = np.flatnonzero(probs >= self.min_score)
        keep = keep[np.argsort(-probs[keep], kind="stable")]
        return [
            Face(
                box=tuple(float(v) / scale for v in boxes[i]),
                score=float(probs[i]),
                landmarks=None
                if points is None
                else tuple((float(x) / scale, float(y) / scale) for x, y in points[i]),
            )
            for i in keep
        ]

    def crop_box(self, frame_shape: tuple[int, ...], face: Face) -> tuple[int, int, int, int]:
        """Integer square crop window (may extend past the frame) for ``face``."""
        x1, y1, x2, y2 = face.box
        side = max(x2 - x1, y2 - y1) * (1.0 + self.margin)
        cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
        left, top = int(round(cx - side / 2.0)), int(round(cy - side / 2.0))
        side_px = max(1, int(round(side)))
        return left, top, left + side_px, top + side_px

    def crop_matrix(self, frame_shape: tuple[int, ...], face: Face) -> np.ndarray:
        """The 2×3 affine taking frame px to px of the saved crop of ``face`` (pixel centres at
        integers, as detectors and landmark predictors report points): the similarity onto the
        template with ``align`` (the matrix :meth:`crop` warps with), else the crop window
        (:meth:`crop_box`, the window :meth:`crop` cuts) scaled to ``crop_size`` as
        ``cv2.resize`` maps pixel centres."""
        if self.align:
            if face.landmarks is None:
                raise ValueError(
                    "align=true needs the face's five landmarks, and this face has none (boxes reused from "
                    "a manifest made without align?): preprocess again with preprocess.cropper.align=true"
                )
            return similarity_transform(face.landmarks, template_points(self.crop_size, self.align_scale))
        left, top, right, _ = self.crop_box(frame_shape, face)
        scale = self.crop_size / (right - left)
        return np.array([[scale, 0.0, (0.5 - left) * scale - 0.5], [0.0, scale, (0.5 - top) * scale - 0.5]])

    def crop(self, frame: np.ndarray, face: Face) -> np.ndarray:
        """The ``size``×``size`` RGB crop of ``face`` in ``frame`` (black padding outside the frame):
        aligned on its landmarks with ``align``, else the box with its margin. Either way its
        pixels sit where :meth:`crop_matrix` maps the frame's."""
        if self.align:
            return warp_crop(frame, self.crop_matrix(frame.shape, face), self.crop_size)
        h, w = frame.shape[:2]
        left, top, right, bottom = self.crop_box(frame.shape, face)
        patch = frame[max(0, top) : min(h, bottom), max(0, left) : min(w, right)]
        pad = ((max(0, -top), max(0, bottom - h)), (max(0, -left), max(0, right - w)), (0, 0))
        if any(p for axis in pad for p in axis):
            patch = np.pad(patch, pad)
        side = patch.shape[0]
        interp = cv2.INTER_AREA if side > self.crop_size else cv2.INTER_LINEAR
        return cv2.resize(patch, (self.crop_size, self.crop_size), interpolation=interp)

    def crop_frames(
        self, frames: np.ndarray, faces: Sequence[Face | None] | None = None
    ) -> list[tuple[np.ndarray, Face] | None]:
        """Crop each frame's face; ``faces`` given (e.g. the original's boxes) skips detection."""
        if faces is None:
            faces = self.detect(frames)
        return [
            None if face is None else (self.crop(frame, face), face)
            for frame, face in zip(frames, faces, strict=True)
        ]

    def crop_image(self, image: np.ndarray | str | Path) -> np.ndarray | None:
        """Single-image inference: the face crop of an RGB image (array or file), or None."""
        if not isinstance(image, np.ndarray):
            from PIL import Image

            image = np.asarray(Image.open(image).convert("RGB"))
        (result,) = self.crop_frames(image[None])
        return None if result is None else result[0]


#: px, the side of MTCNN's last-stage (O-Net) input
ONET_SIZE = 48


def _padded_cut(frame: np.ndarray, left: int, top: int, side: int, size: int) -> np.ndarray:
    """The ``side`` px square of ``frame`` at ``(left, top)``, black outside the frame, resized to ``size`` px."""
    h, w = frame.shape[:2]
    y0, x0 = min(h, max(0, top)), min(w, max(0, left))
    y1, x1 = max(y0, min(h, top + side)), max(x0, min(w, left + side))
    pad = ((y0 - top, top + side - y1), (x0 - left, left + side - x1), (0, 0))
    patch = np.pad(frame[y0:y1, x0:x1], pad) if any(pad[0] + pad[1]) else frame[y0:y1, x0:x1]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def resize_matrix(frame_shape: tuple[int, ...], crop_size: int) -> np.ndarray:
    """The 2×3 affine taking frame px to crop px when a whole frame is resized to ``crop_size``
    square (a dataset shipped as face crops, ``record.precropped``), as ``cv2.resize`` maps pixel
    centres."""
    h, w = frame_shape[:2]
    sx, sy = crop_size / w, crop_size / h
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])


#: Quality of the JPEG crops preprocessing writes (``preprocess.image_ext=.jpg``): OpenCV's default,
#: which crops written before it was recorded in the manifest (``jpeg_quality``) used too.
JPEG_QUALITY = 95


def is_jpeg(image_format: str) -> bool:
    """Whether crops saved as ``image_format`` (``jpg``, ``.jpeg``, ``png``...) are lossy JPEG."""
    return image_format.lower().lstrip(".") in ("jpg", "jpeg")


def jpeg_params(image_format: str, quality: int = JPEG_QUALITY) -> list[int]:
    """OpenCV's write parameters for a crop saved as ``image_format``."""
    return [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if is_jpeg(image_format) else []


def jpeg_round_trip(crop: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """An RGB crop saved as JPEG and read back: encoded as preprocessing (and ``dfd.pack``) write
    it, decoded as the data modules read it (OpenCV), so the pixels are those training saw."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), jpeg_params("jpg", quality))
    if not ok:
        raise ValueError(f"OpenCV could not encode a {crop.shape} crop as JPEG")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def crop_video(
    path: str | Path, cropper: FaceCropper, num_frames: int = 32, stride: int = 0
) -> list[tuple[int, np.ndarray, Face]]:
    """Single-video inference and preprocessing: ``(frame index, crop, face)`` per sampled frame with a face."""
    indices, frames = read_frames(path, num_frames=num_frames, stride=stride)
    results = cropper.crop_frames(frames)
    return [(int(i), r[0], r[1]) for i, r in zip(indices, results, strict=True) if r is not None]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``(x1, y1, x2, y2)`` boxes (used to compare detectors in tests and benchmarks)."""
    from torchvision.ops import box_iou as tv_box_iou

    pair = torch.tensor(np.asarray([a, b], dtype=np.float64))
    return float(tv_box_iou(pair[:1], pair[1:])[0, 0])
