"""The published sources' own face-crop recipes, as geometry, to measure how far dfd's crops are
from them (``docs/published.md``: ``python -m dfd.published.recipes``).

- SBI (``src/inference/preprocess.py`` of its repository, read for the rule): RetinaFace's box
  grown by an eighth of its width and height on each side at test time (a quarter, halved outside
  training), clipped to the frame, and resized to 380×380 whatever its aspect (:func:`sbi_region`). RetinaFace's weights are not reachable here, so
  the rule is applied to MTCNN's box: the comparison isolates the crop geometry from the detector.
- DeepfakeBench (``preprocessing/preprocess.py``): dlib's HOG detector, the largest face, its
  81-point landmarks reduced to five (points 37 and 44, upper eyelids; 30, the nose tip; 49 and
  55, beside the mouth corners), aligned by a similarity onto the 5-point template at 1.3× scale,
  256 px (:func:`~dfd.preprocessing.dlib_faces.deepfakebench_points`; ``preprocess=deepfakebench``
  crops so). The 68-point model dfd ships numbers those points alike
  (the 81-point model adds 13 forehead points after them), so the recipe runs as documented.

Each recipe gives a region of the frame (a convex polygon); :func:`region_iou` compares two.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from dfd.preprocessing.dlib_faces import deepfakebench_points
from dfd.preprocessing.faces import similarity_transform, template_points


def sbi_region(box: Sequence[float], frame_shape: tuple[int, ...]) -> np.ndarray:
    """SBI's test-time crop of a face ``box`` (x1, y1, x2, y2): the box plus an eighth of its width
    (height) left and right (above and below), clipped to the frame; its 4 corners, px."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    height, width = frame_shape[:2]
    left, right = max(0.0, x1 - w / 8), min(float(width), x2 + w / 8)
    top, bottom = max(0.0, y1 - h / 8), min(float(height), y2 + h / 8)
    return np.array([[left, top], [right, top], [right, bottom], [left, bottom]])


def aligned_region(points5: np.ndarray, size: int = 256, scale: float = 1.3) -> np.ndarray:
    """The frame region an aligned crop of ``size`` px sees when ``points5`` go onto the template
    at ``scale``: the crop's corners mapped back into the frame, px."""
    matrix = similarity_transform(points5, template_points(size, scale))
    return window_region(matrix, size)


def window_region(matrix: np.ndarray, size: int) -> np.ndarray:
    """The frame region a ``size`` px crop made with the frame→crop ``matrix`` (2×3) sees."""
    inverse = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [size - 0.5, size - 0.5], [-0.5, size - 0.5]])
    return corners @ inverse[:, :2].T + inverse[:, 2]


def _signed_area(polygon: np.ndarray) -> float:
    """Shoelace area, positive for counter-clockwise vertices (x right, y up)."""
    if len(polygon) < 3:
        return 0.0
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _area(polygon: np.ndarray) -> float:
    return abs(_signed_area(polygon))


def _clip(subject: np.ndarray, clipper: np.ndarray) -> np.ndarray:
    """``subject`` clipped to the convex ``clipper`` (Sutherland–Hodgman), in float64: OpenCV's
    ``intersectConvexConvex`` returns an empty intersection for two regions equal to 1e-5 px."""
    if _signed_area(clipper) < 0:
        clipper = clipper[::-1]  # counter-clockwise, so "inside" is left of each edge
    out = subject
    for p, q in zip(clipper, np.roll(clipper, -1, axis=0), strict=True):
        if len(out) == 0:
            break
        side = (q[0] - p[0]) * (out[:, 1] - p[1]) - (q[1] - p[1]) * (out[:, 0] - p[0])
        kept = []
        for i in range(len(out)):
            j = (i + 1) % len(out)
            if side[i] >= 0:
                kept.append(out[i])
            if (side[i] >= 0) != (side[j] >= 0):
                kept.append(out[i] + (out[j] - out[i]) * side[i] / (side[i] - side[j]))
        out = np.array(kept).reshape(-1, 2)
    return out


def region_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two convex regions (``[N, 2]`` polygons, px)."""
    pa, pb = np.asarray(a, np.float64), np.asarray(b, np.float64)
    inter = _area(_clip(pa, pb))
    union = _area(pa) + _area(pb) - inter
    return float(inter / union) if union > 0 else 0.0


def main() -> None:  # pragma: no cover - the table of docs/published.md
    """Print, for real photos (the ones that ship with matplotlib and scikit-image, also mirrored and
    rotated), the IoU of dfd's crops with each source's documented recipe."""
    import dlib
    from matplotlib import cbook
    from PIL import Image
    from skimage import data

    from dfd.preprocessing.faces import FaceCropper
    from dfd.preprocessing.landmarks import Landmarker

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = np.asarray(Image.open(f).convert("RGB"))
    photos = {"Grace Hopper": hopper, "astronaut": data.astronaut()}
    for name, img in list(photos.items()):
        photos[f"{name}, mirrored"] = np.ascontiguousarray(img[:, ::-1])
        h, w = img.shape[:2]
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.0)
        photos[f"{name}, rotated 12°"] = cv2.warpAffine(img, rot, (w, h), borderMode=cv2.BORDER_REFLECT)
    square = FaceCropper(margin=0.25, crop_size=380, select="largest")
    aligned = FaceCropper(margin=0.3, crop_size=256, align=True, align_scale=1.3, select="largest")
    hog = dlib.get_frontal_face_detector()
    landmarks = Landmarker("dlib68")
    print(
        "| photo | SBI: dfd square vs SBI's rectangle (same box) | DeepfakeBench: dfd aligned vs dlib recipe |"
    )
    print("|---|---:|---:|")
    for name, img in photos.items():
        face = square.detect([img])[0]
        sbi = region_iou(
            window_region(square.crop_matrix(img.shape, face), 380), sbi_region(face.box, img.shape)
        )
        face_a = aligned.detect([img])[0]
        ours = window_region(aligned.crop_matrix(img.shape, face_a), 256)
        rects = hog(img, 1)
        if rects:
            r = max(rects, key=lambda r: r.width() * r.height())
            pts = landmarks(img, (r.left(), r.top(), r.right(), r.right() - r.left() + r.top()))
            dfb = f"{region_iou(ours, aligned_region(deepfakebench_points(pts))):.3f}"
        else:
            dfb = "dlib finds no face"
        print(f"| {name} | {sbi:.3f} | {dfb} |")


if __name__ == "__main__":  # pragma: no cover
    main()
