"""Fakes made from real faces: self-blended images (SBI) and Face X-ray's blended images.

- :func:`self_blend`: Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images",
  CVPR 2022 (arXiv 2204.08376). A real crop is blended with a transformed copy of itself inside
  a mask drawn from its landmarks: the source-target generator (STG, §3.2) makes two copies that
  differ in colour, frequency content and geometry; the mask generator (MG, §3.3) deforms and
  blurs the landmark hull and scales it by a random blend ratio; the blend (§3.1, Eq. 1) is
  ``fake = source * mask + target * (1 - mask)``.
- :func:`xray_blend` and :class:`LandmarkIndex`: Li et al., "Face X-ray for More General Face
  Forgery Detection", CVPR 2020 (arXiv 1912.13458), §3.3: a real face is blended with another
  real face whose landmarks are near, aligned onto it and colour-corrected, inside the target's
  deformed and blurred hull.

Landmarks are float ``[K, 2]`` (x, y) in crop pixels: 68 points (dlib's shape predictor,
``preprocess.landmarks=dlib68``), 81 (the 68 plus 13 forehead points, the predictor the SBI paper
uses) or 5 (MTCNN's eyes, nose and mouth corners, ``preprocess.landmarks=mtcnn5``, a lower-fidelity
fallback: the mask is an ellipse fitted to the 5 points, see :func:`face_regions`).

Every random choice is drawn from the ``rng`` passed in (a :class:`numpy.random.Generator`), and
the albumentations pipelines are seeded from it, so a caller that seeds ``rng`` per
(seed, epoch, index) gets the same fake on every run and on resume. NumPy, OpenCV and
albumentations only (no torch), so this runs in DataLoader workers. The albumentations pipelines
are module-level and re-seeded on every call: one process (a worker) runs one blend at a time;
threads sharing them would interleave their seeds. docs/sbi.md tables each step
against the papers and what dfd chose where they leave a value open.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # its import otherwise calls the network

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

#: Landmark counts dfd blends with: MTCNN's 5, dlib's 68, and 68 + 13 forehead points.
LANDMARK_COUNTS = (5, 68, 81)

# The 68-point layout (iBUG 300-W, which dlib's predictor follows); the 81-point model appends
# 13 forehead points after these.
JAW = np.arange(0, 17)
BROWS = np.arange(17, 27)
NOSE = np.arange(27, 36)
EYES = np.arange(36, 48)
MOUTH = np.arange(48, 68)
CHIN = 8
NOSE_BASE = 33

#: SBI §3.3: the blend ratio is drawn uniformly from this list (full opacity half the time).
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)

#: Mask variants (SBI §3.3 and Face X-ray §3.3 vary the hull's shape; the papers do not fix the
#: set, these are dfd's) and how often each is drawn. ``face``: jaw, brows and forehead (the
#: whole face, as a face swap replaces it); ``face_no_forehead``: the 68 points' own hull (brows
#: up); ``inner``: brows, eyes, nose and mouth without the cheeks (a swap's inner crop);
#: ``lower``: nose and mouth down to the chin (a mouth reenactment). With 5 points: ``face`` and
#: ``inner`` only, as ellipses.
VARIANTS = ("face", "face_no_forehead", "inner", "lower")
VARIANT_P = (0.4, 0.2, 0.2, 0.2)

# STG geometry (§3.2): the source is scaled about the face centre by a factor per axis in
# [1 - SCALE, 1 + SCALE] and shifted by up to SHIFT of the crop side per axis. The paper gives
# the operations (resize, translate); these ranges are dfd's: small enough that the mismatch
# stays a few pixels at 256 px, as a face swap's landmarks are near.
SCALE = 0.05
SHIFT = 0.03

# MG (§3.3): the hull is deformed by a smooth random displacement field of GRID x GRID control
# points, up to DEFORM of the face size, then blurred twice with odd Gaussian kernels of BLUR of
# the face size (face size = square root of the hull's area).
GRID = 4
DEFORM = (0.0, 0.06)
BLUR = (0.05, 0.2)

#: SBI §3.2, colour: shift RGB, hue, saturation, value, brightness and contrast of one copy.
COLOUR = A.Compose(
    [
        A.RGBShift(r_shift_limit=20, g_shift_limit=20, b_shift_limit=20, p=0.3),
        A.HueSaturationValue(hue_shift_limit=10, sat_shift_limit=20, val_shift_limit=20, p=0.3),
        A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1, p=1.0),
    ]
)

#: SBI §3.2, frequency: downsample (and back up) or sharpen the same copy.
FREQUENCY = A.Compose(
    [
        A.OneOf(
            [
                A.Downscale(scale_range=(0.25, 0.5), p=1.0),
                A.Sharpen(alpha=(0.2, 0.5), lightness=(0.5, 1.0), p=1.0),
            ],
            p=0.5,
        )
    ]
)


@dataclass(frozen=True)
class Blend:
    """What :func:`self_blend` drew (for tests and galleries): which copy was augmented, the mask
    variant and the blend ratio."""

    augmented: str  # "source" or "target"
    variant: str
    ratio: float


def check_landmarks(landmarks: np.ndarray, image: np.ndarray | None = None) -> np.ndarray:
    """``landmarks`` as float32 ``[K, 2]``, K one of :data:`LANDMARK_COUNTS`, all finite; a one-line
    ``ValueError`` naming the bad shape otherwise."""
    lm = np.asarray(landmarks, dtype=np.float32)
    if lm.ndim != 2 or lm.shape[1] != 2 or lm.shape[0] not in LANDMARK_COUNTS:
        raise ValueError(
            f"landmarks of shape {tuple(lm.shape)}: expected [K, 2] crop px with K in {LANDMARK_COUNTS}; "
            "store them with preprocess.landmarks=dlib68 (or mtcnn5)"
        )
    if not np.isfinite(lm).all():
        raise ValueError(
            "landmarks contain NaN or inf: expected finite crop px; re-run dfd.preprocess with preprocess.landmarks set"
        )
    if image is not None and (image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8):
        raise ValueError(
            f"image of shape {image.shape} and dtype {image.dtype}: expected an RGB uint8 crop [H, W, 3]"
        )
    return lm


def forehead_68(lm: np.ndarray) -> np.ndarray:
    """Ten forehead points for a 68-point face, which ends at the brows (dfd's rule, docs/sbi.md).

    The 81-point predictor of the SBI paper adds points along the hairline. The facial-thirds
    canon puts the hairline as far above the brows as the nose base is below them, so each brow
    point is lifted by that distance along the face's vertical axis (chin to brows).
    """
    brows = lm[BROWS]
    brow_mid = brows.mean(axis=0)
    up = brow_mid - lm[CHIN]
    up /= max(float(np.linalg.norm(up)), 1e-6)
    lift = float(np.dot(brow_mid - lm[NOSE_BASE], up))
    return brows + max(lift, 0.0) * up


def face_regions(lm: np.ndarray) -> dict[str, np.ndarray]:
    """The polygon (float32 ``[P, 2]``) of each mask variant for these landmarks.

    68 or 81 points: convex hulls of the point sets named in :data:`VARIANTS` (81 points use their
    own forehead points, 68 the ones of :func:`forehead_68`). 5 points (MTCNN): ellipses, the
    lower-fidelity fallback. With ``d`` the distance from the eyes' midpoint to the mouth's and
    ``c`` their midpoint, ``face`` is centred ``0.3 d`` above ``c`` with semi-axes ``1.6 d``
    (vertical, chin to hairline) and ``1.1 d`` (cheek to cheek), ``inner`` is centred on ``c`` with
    semi-axes ``0.75 d`` and ``0.85 d`` (brows to below the mouth): face proportions measured with
    dlib's 68 points on the two bundled photos (docs/sbi.md).
    """
    if len(lm) == 5:
        eyes = (lm[0] + lm[1]) / 2
        mouth = (lm[3] + lm[4]) / 2
        d = max(float(np.linalg.norm(eyes - mouth)), 1.0)
        up = (eyes - mouth) / d
        angle = float(np.degrees(np.arctan2(up[0], -up[1])))  # tilt of the face's vertical axis
        c = (eyes + mouth) / 2

        def ellipse(centre: np.ndarray, vertical: float, horizontal: float) -> np.ndarray:
            pts = cv2.ellipse2Poly(
                (int(round(centre[0])), int(round(centre[1]))),
                (max(int(round(horizontal)), 1), max(int(round(vertical)), 1)),
                int(round(angle)),
                0,
                360,
                10,
            )
            return pts.astype(np.float32)

        return {"face": ellipse(c + 0.3 * d * up, 1.6 * d, 1.1 * d), "inner": ellipse(c, 0.75 * d, 0.85 * d)}
    forehead = lm[68:81] if len(lm) == 81 else forehead_68(lm)
    base = lm[:68]
    sets = {
        "face": np.concatenate([base[JAW], base[BROWS], forehead]),
        "face_no_forehead": base,
        "inner": base[np.concatenate([BROWS, NOSE, EYES, MOUTH])],
        "lower": base[np.concatenate([JAW[2:15], NOSE[4:], MOUTH])],
    }
    return {k: cv2.convexHull(v.astype(np.float32)).reshape(-1, 2) for k, v in sets.items()}


def draw_variant(lm: np.ndarray, rng: np.random.Generator) -> str:
    """A mask variant for these landmarks, drawn with :data:`VARIANT_P` (5 points: ``face`` or
    ``inner``, 3 to 1)."""
    if len(lm) == 5:
        return "face" if rng.random() < 0.75 else "inner"
    return VARIANTS[int(rng.choice(len(VARIANTS), p=VARIANT_P))]


def _odd(x: float) -> int:
    k = max(int(round(x)), 1)
    return k if k % 2 else k + 1


def blend_mask(
    shape: tuple[int, int], polygon: np.ndarray, rng: np.random.Generator, ratio: float = 1.0
) -> np.ndarray:
    """SBI §3.3's mask generator (Face X-ray §3.3 builds its mask the same way): the filled
    ``polygon``, deformed, blurred twice, scaled to ``ratio``. Float32 ``shape`` in [0, 1] whose
    maximum is ``ratio``.

    - Deformation: a smooth random displacement field (``GRID`` x ``GRID`` control offsets of up
      to :data:`DEFORM` of the face size, interpolated bilinearly) warps the filled hull, so its
      outline is no longer a hull.
    - Two Gaussian blurs with random odd kernels (:data:`BLUR` of the face size). After the first,
      every pixel below 1 is set to 0, which erodes the mask by about half that kernel, so the
      second blur's soft edge falls around the hull's outline instead of all outside it.
    - The result is divided by its maximum (1 unless the face is tiny next to the kernels) and
      multiplied by ``ratio``.
    """
    roi, box = _mask_box(shape, polygon, rng, ratio)
    return _paste(shape, roi, box)


def _mask_box(
    shape: tuple[int, int], polygon: np.ndarray, rng: np.random.Generator, ratio: float
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """:func:`blend_mask` inside the box ``(x0, y0, x1, y1)`` it can reach (zero outside)."""
    h, w = shape
    area = max(float(cv2.contourArea(polygon.astype(np.float32))), 1.0)
    size = float(np.sqrt(area))
    amp = rng.uniform(*DEFORM) * size
    k1 = _odd(rng.uniform(*BLUR) * size)
    k2 = _odd(rng.uniform(*BLUR) * size)
    offsets = rng.uniform(-amp, amp, size=(2, GRID, GRID)).astype(np.float32)
    # work in the polygon's box, padded by what deformation and blur can reach, for speed
    pad = int(np.ceil(amp)) + k1 + k2 + 2
    x0, y0 = np.floor(polygon.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(polygon.max(axis=0)).astype(int) + pad + 1
    x0, y0, x1, y1 = int(max(x0, 0)), int(max(y0, 0)), int(min(x1, w)), int(min(y1, h))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0), np.float32), (0, 0, 0, 0)
    bw, bh = x1 - x0, y1 - y0
    roi = np.zeros((bh, bw), np.float32)
    pts = np.round((polygon - [x0, y0]) * 16).astype(np.int32)  # 4 fractional bits
    cv2.fillPoly(roi, [pts], 1.0, lineType=cv2.LINE_8, shift=4)
    if amp > 0:
        dx = cv2.resize(offsets[0], (bw, bh), interpolation=cv2.INTER_LINEAR)
        dy = cv2.resize(offsets[1], (bw, bh), interpolation=cv2.INTER_LINEAR)
        dx += np.arange(bw, dtype=np.float32)[None, :]
        dy += np.arange(bh, dtype=np.float32)[:, None]
        roi = cv2.remap(roi, dx, dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    blurred = cv2.GaussianBlur(roi, (k1, k1), 0)
    eroded = np.where(blurred >= 1.0 - 1e-3, 1.0, 0.0).astype(np.float32)
    if eroded.any():  # a face smaller than the first kernel keeps its blurred mask
        blurred = eroded
    roi = cv2.GaussianBlur(blurred, (k2, k2), 0)
    peak = float(roi.max())
    if peak > 0:
        roi *= ratio / peak
    return roi, (x0, y0, x1, y1)


def _augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBI §3.2's colour then frequency transforms of one copy, seeded from ``rng``."""
    COLOUR.set_random_seed(int(rng.integers(2**31)))
    FREQUENCY.set_random_seed(int(rng.integers(2**31)))
    return FREQUENCY(image=COLOUR(image=image)["image"])["image"]


def _shift_scale(
    image: np.ndarray, centre: np.ndarray, rng: np.random.Generator, box: tuple[int, int, int, int]
) -> np.ndarray:
    """SBI §3.2's geometry: the source resized about the face centre and translated; only the
    pixels of ``box`` (where the mask can be non-zero) are computed."""
    h, w = image.shape[:2]
    sx, sy = rng.uniform(1 - SCALE, 1 + SCALE, size=2)
    tx, ty = rng.uniform(-SHIFT, SHIFT, size=2) * (w, h)
    cx, cy = centre
    x0, y0, x1, y1 = box
    m = np.array([[sx, 0, cx - sx * cx + tx - x0], [0, sy, cy - sy * cy + ty - y0]], np.float32)
    return cv2.warpAffine(
        image, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def _blend(
    source: np.ndarray, target: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]
) -> np.ndarray:
    """Eq. 1 of SBI (and Face X-ray's Eq. 1): ``source * mask + target * (1 - mask)`` inside
    ``box`` (``source`` and ``mask`` are the box's pixels), uint8; pixels where the mask is 0
    are the target's, exactly."""
    x0, y0, x1, y1 = box
    out = target.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    m = mask[:, :, None]
    t = target[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(np.rint(t + m * (source.astype(np.float32) - t)), 0, 255).astype(np.uint8)
    return out


def _paste(shape: tuple[int, int], roi: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.float32)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = roi
    return mask


def self_blend(
    image: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    *,
    augmented: str | None = None,
    variant: str | None = None,
    details: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, Blend]:
    """A self-blended image of ``image`` (SBI, Shiohara & Yamasaki 2022) and its blend mask.

    Args:
        image: RGB uint8 face crop ``[H, W, 3]``.
        landmarks: float ``[K, 2]`` in crop px, K = 68, 81 or 5 (see the module docstring).
        rng: the only source of randomness.
        augmented: ``"source"`` or ``"target"``: the copy that gets the colour and frequency
            transforms (§3.2); drawn half and half when ``None``. With ``"source"`` the target is
            the untouched crop, so every pixel where the mask is 0 is the input's.
        variant: one of :data:`VARIANTS` (``face``/``inner`` for 5 points); drawn when ``None``.
        details: also return the :class:`Blend` drawn.

    Returns:
        ``(fake, mask)``: the blended uint8 ``[H, W, 3]`` and the float32 ``[H, W]`` alpha actually
        used (already scaled by the blend ratio, so its maximum is the ratio drawn from
        :data:`BLEND_RATIOS`); and the :class:`Blend` when ``details``.
    """
    lm = check_landmarks(landmarks, image)
    regions = face_regions(lm)
    if variant is None:
        variant = draw_variant(lm, rng)
    elif variant not in regions:
        raise ValueError(f"variant={variant!r}: expected one of {sorted(regions)} for {len(lm)} landmarks")
    if augmented is None:
        augmented = "source" if rng.random() < 0.5 else "target"
    elif augmented not in ("source", "target"):
        raise ValueError(f"augmented={augmented!r}: expected 'source' or 'target'")
    ratio = float(BLEND_RATIOS[int(rng.integers(len(BLEND_RATIOS)))])
    # STG (§3.2): one copy gets colour and frequency transforms; the source is then moved
    changed = _augment(image, rng)
    source, target = (changed, image) if augmented == "source" else (image, changed)
    polygon = regions[variant]
    # MG (§3.3), drawn before the geometry so that only the mask's box is warped
    roi, box = _mask_box(image.shape[:2], polygon, rng, ratio)
    source = _shift_scale(source, polygon.mean(axis=0), rng, box)
    # the blend (§3.1)
    fake = _blend(source, target, roi, box)
    mask = _paste(image.shape[:2], roi, box)
    if details:
        return fake, mask, Blend(augmented=augmented, variant=variant, ratio=ratio)
    return fake, mask


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, translation) mapping ``src`` points onto
    ``dst`` in least squares (Umeyama, IEEE TPAMI 1991): deterministic, unlike RANSAC."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - ms, dst - md
    var = (s**2).sum() / len(src)
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sig) @ sign) / max(var, 1e-12))
    t = md - scale * rot @ ms
    return np.hstack([scale * rot, t[:, None]]).astype(np.float32)


def colour_transfer(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``source`` with the mean and standard deviation of each L*a*b* channel of ``target``
    inside ``mask > 0`` (Reinhard et al., IEEE CG&A 2001): Face X-ray §3.3's colour correction
    of the foreground face before blending."""
    inside = (mask > 0).astype(np.uint8)
    if source.size == 0 or not inside.any():
        return source
    s = cv2.cvtColor(source, cv2.COLOR_RGB2LAB)
    t = cv2.cvtColor(target, cv2.COLOR_RGB2LAB)
    sm, ss = (v.ravel().astype(np.float32) for v in cv2.meanStdDev(s, mask=inside))
    tm, ts = (v.ravel().astype(np.float32) for v in cv2.meanStdDev(t, mask=inside))
    gain = ts / (ss + 1e-3)
    out = np.clip(s.astype(np.float32) * gain + (tm - sm * gain), 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_LAB2RGB)


def xray_blend(
    target: np.ndarray,
    target_landmarks: np.ndarray,
    source: np.ndarray,
    source_landmarks: np.ndarray,
    rng: np.random.Generator,
    *,
    variant: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Face X-ray's blended image (Li et al. 2020, §3.3): ``source``'s face on ``target``.

    The source crop is aligned onto the target by the similarity that maps its landmarks onto
    the target's (:func:`similarity_transform`), colour-corrected to the target inside the mask
    (:func:`colour_transfer`), and blended inside the target's mask: the same deformed and
    blurred hull as :func:`self_blend` (:func:`blend_mask`), at full opacity, as Face X-ray blends.

    Returns ``(fake, mask)`` as :func:`self_blend` does (the mask's maximum is 1).
    """
    tl = check_landmarks(target_landmarks, target)
    sl = check_landmarks(source_landmarks, source)
    if len(tl) != len(sl):
        raise ValueError(
            f"target has {len(tl)} landmarks and source {len(sl)}: expected the same predictor for both"
        )
    regions = face_regions(tl)
    if variant is None:
        variant = draw_variant(tl, rng)
    elif variant not in regions:
        raise ValueError(f"variant={variant!r}: expected one of {sorted(regions)} for {len(tl)} landmarks")
    h, w = target.shape[:2]
    roi, box = _mask_box((h, w), regions[variant], rng, 1.0)
    x0, y0, x1, y1 = box
    m = similarity_transform(sl[:68], tl[:68])
    m[:, 2] -= (x0, y0)  # only the mask's box of the aligned source is needed
    aligned = cv2.warpAffine(
        source, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    aligned = colour_transfer(aligned, target[y0:y1, x0:x1], roi)
    return _blend(aligned, target, roi, box), _paste((h, w), roi, box)


def normalised_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks ``[N, K, 2]`` as ``[N, 2K]`` rows with position and scale removed: each face
    centred on its mean point and divided by its root-mean-square distance from it."""
    lm = np.asarray(landmarks, np.float32)
    centred = lm - lm.mean(axis=1, keepdims=True)
    scale = np.sqrt((centred**2).sum(axis=2).mean(axis=1))
    return (centred / np.maximum(scale, 1e-6)[:, None, None]).reshape(len(lm), -1)


class LandmarkIndex:
    """For crop ``i``, a random one of the ``k`` crops of *other* videos whose landmarks are
    nearest (Face X-ray §3.3 blends a face with a real face of similar landmarks).

    Face X-ray searches the nearest landmarks among a random subset of candidates. dfd searches
    all the training crops: landmarks are normalised for position and scale
    (:func:`normalised_landmarks`), projected on their top ``dims`` principal components (so the
    search is fast at 100k crops), and searched with a k-d tree (scipy's ``cKDTree``); among the
    ``k`` nearest crops of other videos it draws one from ``rng``, so the same crop does not
    always meet the same partner.

    Args:
        landmarks: float ``[N, K, 2]``, crop px.
        video_idx: ``[N]`` video of each crop; crops of the same video never pair.
        k: how many nearest crops to choose from.
        dims: principal components kept.
    """

    def __init__(self, landmarks: np.ndarray, video_idx: np.ndarray, k: int = 8, dims: int = 16) -> None:
        from scipy.spatial import cKDTree

        lm = np.asarray(landmarks, np.float32)
        self.video_idx = np.asarray(video_idx)
        if lm.ndim != 3 or lm.shape[2] != 2 or lm.shape[1] not in LANDMARK_COUNTS:
            raise ValueError(f"landmarks of shape {lm.shape}: expected [N, K, 2] with K in {LANDMARK_COUNTS}")
        if len(self.video_idx) != len(lm):
            raise ValueError(f"{len(self.video_idx)} video ids for {len(lm)} crops: expected one per crop")
        if len(np.unique(self.video_idx)) < 2:
            raise ValueError(
                "every crop is of one video: data.fakes=blended needs real crops of at least 2 videos"
            )
        x = normalised_landmarks(lm).astype(np.float64)
        x -= x.mean(axis=0)
        _, _, vt = np.linalg.svd(x[:: max(len(x) // 20000, 1)], full_matrices=False)
        self.points = (x @ vt[:dims].T).astype(np.float32)
        self.tree = cKDTree(self.points)
        self.k = k

    def neighbours(self, i: int) -> np.ndarray:
        """The ``k`` crops of other videos nearest to crop ``i``, nearest first (fewer if the
        other videos have fewer crops)."""
        n = len(self.points)
        others = int((self.video_idx != self.video_idx[i]).sum())
        want = min(self.k, others)
        q = min(4 * self.k + 1, n)
        while True:
            _, idx = self.tree.query(self.points[i], k=q)
            idx = np.atleast_1d(idx)
            idx = idx[self.video_idx[idx] != self.video_idx[i]]
            if len(idx) >= want or q >= n:
                return idx[:want]
            q = min(4 * q, n)

    def nearest(self, i: int, rng: np.random.Generator) -> int:
        """A random one of :meth:`neighbours` of crop ``i``."""
        cand = self.neighbours(i)
        return int(cand[int(rng.integers(len(cand)))])
