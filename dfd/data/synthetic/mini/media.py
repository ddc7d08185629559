"""The media of the mini raw datasets: real faces in moving frames, face-swap-like fakes, voice-like
audio, and H.264 + AAC files written with PyAV.

Frames show real faces that ship with dependencies (Grace Hopper from
matplotlib's sample data, the astronaut Eileen Collins from scikit-image) so MTCNN finds them,
with per-identity flips and colour casts and per-video pan/zoom/jitter so frames differ. Fakes
are face-swap-like edits of the face region: another identity's face blended in (resampled,
colour-mismatched or hard-edged by method), the video's own face resampled (Face2Face-like),
or the mouth region re-textured (NeuralTextures-like). ``Temporal`` fakes (:func:`temporal_frames`)
edit no frame: every frame is a clean real one and only their order in time is wrong. Audio-visual layouts get AAC audio; their
fakes have their audio swapped with another identity's or shifted. Corrupt files (zero-byte,
truncated, no face, no audio, metadata entry without file, file without entry) are added on
request (:mod:`dfd.data.synthetic.mini.trees`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np

from dfd.raw.audio import SAMPLE_RATE

#: Face boxes (x1, y1, x2, y2) of the bundled photos, as MTCNN finds them (tests check this):
#: the mean of its boxes over 13 image scales from 0.4x to 1.6x (the per-scale spread is about
#: 5 px for Hopper, 1 px for the astronaut). Swaps map the source's box onto the target's, so a
#: detector finds the pasted face where the target's face was, as after the landmark alignment
#: of real face swaps.
HOPPER_BOX = (172.0, 114.0, 352.0, 337.0)
ASTRONAUT_BOX = (180.0, 62.0, 268.0, 174.0)


@lru_cache(maxsize=1)
def base_faces() -> tuple[tuple[np.ndarray, tuple[float, float, float, float]], ...]:
    """The real face photos (RGB uint8) with their face boxes."""
    from matplotlib import cbook
    from PIL import Image
    from skimage import data

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = np.asarray(Image.open(f).convert("RGB"))
    return ((hopper, HOPPER_BOX), (data.astronaut(), ASTRONAUT_BOX))


@dataclass(frozen=True)
class VideoSpec:
    """Frame size (px), length and rate of generated videos."""

    width: int = 224
    height: int = 176
    n_frames: int = 24
    fps: int = 12


@dataclass(frozen=True)
class Identity:
    """A person of the mini datasets: one of the photos, possibly mirrored, with a colour cast."""

    image: np.ndarray
    box: tuple[float, float, float, float]

    @staticmethod
    def make(index: int) -> Identity:
        faces = base_faces()
        image, box = faces[index % len(faces)]
        rng = np.random.default_rng(1000 + index)
        if (index // len(faces)) % 2:
            image = image[:, ::-1]
            w = image.shape[1]
            box = (w - box[2], box[1], w - box[0], box[3])
        gains = rng.uniform(0.8, 1.2, size=3) if index >= len(faces) else np.ones(3)
        tinted = np.clip(image.astype(np.float32) * gains, 0, 255).astype(np.uint8)
        return Identity(image=np.ascontiguousarray(tinted), box=box)

    def face_patch(self, pad: float = 0.15) -> np.ndarray:
        x1, y1, x2, y2 = expand_box(self.box, pad)
        return self.image[max(0, y1) : y2, max(0, x1) : x2]


def expand_box(box: tuple[float, ...], pad: float) -> tuple[int, int, int, int]:
    """``box`` grown by ``pad`` of its size on every side, in integer px."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * pad, (y2 - y1) * pad
    return int(x1 - dx), int(y1 - dy), int(x2 + dx), int(y2 + dy)


def render(identity: Identity, spec: VideoSpec, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames uint8[T,H,W,3] of ``identity`` with pan/zoom/jitter (edges replicated, so no mirrored second face), and face boxes float[T,4] in them."""
    rng = np.random.default_rng(seed)
    x1, y1, x2, y2 = identity.box
    face_h = y2 - y1
    zoom0, zoom1 = rng.uniform(0.38, 0.5, size=2)  # face height as a fraction of the frame
    pan = rng.uniform(-0.08, 0.08, size=(2, 2))  # start/end offset of the face centre, in frames
    frames, boxes = [], []
    for t in range(spec.n_frames):
        a = t / max(1, spec.n_frames - 1)
        s = (zoom0 + (zoom1 - zoom0) * a) * spec.height / face_h
        off = pan[0] + (pan[1] - pan[0]) * a + rng.normal(0, 0.004, size=2)
        cx, cy = spec.width * (0.5 + off[0]), spec.height * (0.5 + off[1])
        tx, ty = cx - s * (x1 + x2) / 2, cy - s * (y1 + y2) / 2
        m = np.array([[s, 0, tx], [0, s, ty]], dtype=np.float32)
        frames.append(
            cv2.warpAffine(
                identity.image,
                m,
                (spec.width, spec.height),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        )
        boxes.append([s * x1 + tx, s * y1 + ty, s * x2 + tx, s * y2 + ty])
    return np.stack(frames), np.asarray(boxes)


def render_no_face(spec: VideoSpec, seed: int) -> np.ndarray:
    """Frames of a moving smooth colour field with no face in it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : spec.height, 0 : spec.width].astype(np.float32)
    base = rng.uniform(40, 200, size=3)
    frames = []
    for t in range(spec.n_frames):
        wave = np.sin(xx / 23.0 + t / 3.0) * 30 + np.cos(yy / 17.0 - t / 5.0) * 30
        frames.append(np.clip(base[None, None, :] + wave[..., None], 0, 255).astype(np.uint8))
    return np.stack(frames)


def _ellipse_mask(h: int, w: int, feather: float) -> np.ndarray:
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (max(1, int(w * 0.4)), max(1, int(h * 0.45))), 0, 0, 360, 1.0, -1)
    k = int(max(h, w) * feather) | 1
    return cv2.GaussianBlur(mask, (k, k), 0) if feather > 0 else mask


#: The feather of each pasting manipulation's blend ellipse (fraction of the face box blurred).
FEATHER = {"Deepfakes": 0.15, "Face2Face": 0.2, "FaceSwap": 0.0, "FaceShifter": 0.1}


def _paste(frame: np.ndarray, patch: np.ndarray, box: np.ndarray, feather: float) -> np.ndarray:
    """Blend ``patch`` into ``frame`` over ``box`` (expanded like the patch) with a soft ellipse."""
    x1, y1, x2, y2 = expand_box(tuple(box), 0.15)
    fh, fw = frame.shape[:2]
    cx1, cy1, cx2, cy2 = max(0, x1), max(0, y1), min(fw, x2), min(fh, y2)
    if cx2 <= cx1 or cy2 <= cy1:
        return frame
    resized = cv2.resize(patch, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
    mask = _ellipse_mask(y2 - y1, x2 - x1, feather)
    sub = (slice(cy1 - y1, cy2 - y1), slice(cx1 - x1, cx2 - x1))
    out = frame.copy()
    region = out[cy1:cy2, cx1:cx2].astype(np.float32)
    m = mask[sub][..., None]
    out[cy1:cy2, cx1:cx2] = (region * (1 - m) + resized[sub].astype(np.float32) * m).astype(np.uint8)
    return out


def _resample(patch: np.ndarray, factor: float) -> np.ndarray:
    h, w = patch.shape[:2]
    small = cv2.resize(
        patch, (max(4, int(w / factor)), max(4, int(h / factor))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _colour_shift(patch: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    return np.clip(patch.astype(np.float32) * np.asarray(gains, np.float32), 0, 255).astype(np.uint8)


# Each manipulation: (target frame, its face box, source identity, rng) → manipulated frame.
Manipulation = Callable[[np.ndarray, np.ndarray, Identity, np.random.Generator], np.ndarray]


def _deepfakes(frame, box, source, rng):  # autoencoder swap: blurry, low-resolution face
    return _paste(frame, _resample(source.face_patch(), 4.0), box, feather=FEATHER["Deepfakes"])


def _face2face(frame, box, source, rng):  # reenactment: own face re-rendered, resampled and warped
    x1, y1, x2, y2 = expand_box(tuple(box), 0.15)
    h, w = frame.shape[:2]
    own = frame[max(0, y1) : min(h, y2), max(0, x1) : min(w, x2)]
    if own.size == 0:
        return frame
    own = cv2.resize(_resample(own, 3.0), (x2 - x1, y2 - y1))
    return _paste(frame, _colour_shift(own, (1.08, 0.95, 0.92)), box, feather=FEATHER["Face2Face"])


def _faceswap(frame, box, source, rng):  # graphics swap: sharp edges, no colour correction
    return _paste(
        frame, _colour_shift(source.face_patch(), (1.15, 0.9, 0.85)), box, feather=FEATHER["FaceSwap"]
    )


def _mouth(shape: tuple[int, ...], box: np.ndarray) -> tuple[int, int, int, int]:
    """``(y1, y2, x1, x2)`` of the mouth region NeuralTextures-like fakes re-texture, clipped to the frame."""
    x1, y1, x2, y2 = (int(v) for v in box)
    h, w = shape[:2]
    return (
        max(0, y1 + (y2 - y1) * 3 // 5),
        min(h, y2),
        max(0, x1 + (x2 - x1) // 5),
        min(w, x2 - (x2 - x1) // 5),
    )


def _neuraltextures(frame, box, source, rng):  # mouth region re-textured
    my1, my2, mx1, mx2 = _mouth(frame.shape, box)
    out = frame.copy()
    if my2 > my1 and mx2 > mx1:
        mouth = _resample(out[my1:my2, mx1:mx2], 3.0).astype(np.float32)
        out[my1:my2, mx1:mx2] = np.clip(mouth + rng.normal(0, 8, mouth.shape), 0, 255).astype(np.uint8)
    return out


def _faceshifter(frame, box, source, rng):  # high-fidelity swap: colour-matched, slightly soft
    patch = source.face_patch().astype(np.float32)
    x1, y1, x2, y2 = expand_box(tuple(box), 0.15)
    h, w = frame.shape[:2]
    target = frame[max(0, y1) : min(h, y2), max(0, x1) : min(w, x2)].astype(np.float32)
    if target.size:
        patch = (patch - patch.mean((0, 1))) / (patch.std((0, 1)) + 1e-3) * target.std((0, 1)) + target.mean(
            (0, 1)
        )
    return _paste(
        frame, _resample(np.clip(patch, 0, 255).astype(np.uint8), 2.5), box, feather=FEATHER["FaceShifter"]
    )


MANIPULATIONS: dict[str, Manipulation] = {
    "Deepfakes": _deepfakes,
    "Face2Face": _face2face,
    "FaceSwap": _faceswap,
    "NeuralTextures": _neuraltextures,
    "FaceShifter": _faceshifter,
}


#: The manipulation that edits no frame (:func:`temporal_frames`), named as an FF++ method folder.
TEMPORAL = "Temporal"
#: Every ``method`` :func:`fake_frames` takes: the per-frame edits, then the temporal one.
METHODS = (*MANIPULATIONS, TEMPORAL)


def temporal_frames(target: Identity, source: Identity, spec: VideoSpec, seed: int) -> np.ndarray:
    """Identity flicker: each frame is frame ``t`` of ``target``'s real video ``seed`` or, by an
    independent coin flip per frame, the same frame with ``source`` in it.

    Nothing in a single frame is fake: both renderings are real videos' frames (``render`` puts
    either face box at the same place, with the same per-video pan, zoom and per-frame jitter), so
    over a pair's two fakes each frame is distributed exactly as a frame of the pair's two real
    videos. A frame model has nothing per-frame to learn; only the frame-to-frame change (a
    different person from one frame to the next) is fake. The face stays where it was, so face
    tracks do not split (docs/temporal.md).
    """
    own, _ = render(target, spec, seed)
    other, _ = render(source, spec, seed)
    swapped = np.random.default_rng(seed + 7).random(spec.n_frames) < 0.5
    return np.where(swapped[:, None, None, None], other, own)


def fake_frames(target: Identity, source: Identity, spec: VideoSpec, seed: int, method: str) -> np.ndarray:
    """The frames of ``target``'s video ``seed`` with ``source``'s face put in by ``method`` (:data:`METHODS`)."""
    if method == TEMPORAL:
        return temporal_frames(target, source, spec, seed)
    if method not in MANIPULATIONS:
        raise ValueError(f"unknown mini manipulation {method!r}; mini.methods takes names of {list(METHODS)}")
    frames, boxes = render(target, spec, seed)
    rng = np.random.default_rng(seed + 7)
    manipulate = MANIPULATIONS[method]
    return np.stack([manipulate(f, b, source, rng) for f, b in zip(frames, boxes, strict=True)])


def manipulation_mask(shape: tuple[int, ...], box: np.ndarray, method: str) -> np.ndarray:
    """Where ``method`` changes a frame of ``shape`` whose face box is ``box``: uint8 HxW, 255 inside
    (the blend ellipse where its weight is at least one half, or NeuralTextures' mouth region), 0
    elsewhere; all zero for ``Temporal`` (no frame is edited). The mini trees' FF++ ``masks/`` videos."""
    h, w = shape[:2]
    out = np.zeros((h, w), np.uint8)
    if method == "NeuralTextures":
        my1, my2, mx1, mx2 = _mouth(shape, box)
        out[my1:my2, mx1:mx2] = 255
    elif method in FEATHER:
        x1, y1, x2, y2 = expand_box(tuple(box), 0.15)
        cx1, cy1, cx2, cy2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        if cx2 > cx1 and cy2 > cy1:
            weight = _ellipse_mask(y2 - y1, x2 - x1, FEATHER[method])[
                cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1
            ]
            out[cy1:cy2, cx1:cx2] = np.where(weight >= 0.5, 255, 0)
    elif method != TEMPORAL:
        raise ValueError(f"unknown mini manipulation {method!r}; mini.methods takes names of {list(METHODS)}")
    return out


def fake_masks(target: Identity, spec: VideoSpec, seed: int, method: str) -> np.ndarray:
    """The manipulation masks of :func:`fake_frames` ``(target, ·, spec, seed, method)``: uint8[T,H,W], 0/255."""
    frames, boxes = render(target, spec, seed)
    return np.stack([manipulation_mask(f.shape, b, method) for f, b in zip(frames, boxes, strict=True)])


def speech_like(identity_index: int, seconds: float, seed: int) -> np.ndarray:
    """A voice-like float32 signal in [-1, 1]: an identity-specific pitch with syllable envelopes."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 110.0 + 35.0 * (identity_index % 6)
    voice = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28)) / k for k in range(1, 5))
    envelope = np.clip(np.sin(2 * np.pi * rng.uniform(3, 5) * t + rng.uniform(0, 6.28)), 0, 1)
    return (0.3 * voice * envelope + rng.normal(0, 0.01, t.shape)).astype(np.float32)


def write_video(
    path: Path, frames: np.ndarray, fps: int, crf: int = 23, audio: np.ndarray | None = None
) -> Path:
    """Write RGB frames as H.264 (yuv420p) mp4, with ``audio`` (float32 mono 16 kHz) as AAC."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames.shape[1:3]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height = w - w % 2, h - h % 2
        video.pix_fmt = "yuv420p"
        video.options = {"crf": str(crf), "preset": "ultrafast"}
        astream = None
        if audio is not None:
            astream = out.add_stream("aac", rate=SAMPLE_RATE)
            astream.layout = "mono"
        for frame in frames:
            vf = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(frame[: video.height, : video.width]), format="rgb24"
            )
            out.mux(video.encode(vf))
        out.mux(video.encode())
        if astream is not None:
            step = 1024
            for start in range(0, len(audio), step):
                chunk = audio[start : start + step].astype(np.float32)[None, :]
                af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                af.sample_rate = SAMPLE_RATE
                af.pts = start
                out.mux(astream.encode(af))
            out.mux(astream.encode())
    return path


def truncate(path: Path, keep: float = 0.4) -> None:
    """Cut a file to ``keep`` of its bytes (a download that stopped part-way)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
