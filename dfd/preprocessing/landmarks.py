"""Facial landmarks beside every crop: ``preprocess.landmarks=none|mtcnn5|dlib68``.

Self-blended images (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images",
CVPR 2022, arXiv 2204.08376) and Face X-ray (Li et al., CVPR 2020, arXiv 1912.13458) draw their
blend masks from the convex hull of facial landmarks, so preprocessing can store them with the
crops, in crop px (the saved crop's pixel grid; :meth:`FaceCropper.crop_matrix` maps frame px
to crop px, the same matrix the crop is made with).

Providers:

- ``none``: no landmarks (the default).
- ``mtcnn5``: MTCNN's five points (eyes, nose tip, mouth corners; Zhang et al., IEEE SPL 2016),
  which every detection already carries. A lower-fidelity fallback: a hull of five points is a
  rough face region.
- ``dlib68``: the 68-point iBUG 300-W markup from dlib's shape predictor, an ensemble of
  regression trees (Kazemi & Sullivan, "One Millisecond Face Alignment with an Ensemble of
  Regression Trees", CVPR 2014), with the ``shape_predictor_68_face_landmarks.dat`` model that
  the ``face-recognition-models`` pip package ships (no download at run time). The predictor was
  trained on boxes of dlib's HOG detector, which are square and tighter than MTCNN's (MTCNN's
  include the forehead). It is fed the MTCNN box the cropper found, made square with the box's
  width about the box's centre (:func:`predictor_box`): on the astronaut
  (``skimage.data.astronaut``) that brings the 68 points from 1.81 px to 0.58 px mean distance
  to the points predicted from dlib's own detector box (a 90 px face).

Licences: dlib is Boost-licensed and ``face-recognition-models`` MIT-licensed, but the 68-point
model was trained on iBUG 300-W, whose licence excludes commercial use (see the README).
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: ``preprocess.landmarks`` choices and the number of points each gives.
PROVIDERS = {"none": 0, "mtcnn5": 5, "dlib68": 68}
#: The model file of ``dlib68``, inside the ``face_recognition_models`` package.
DLIB68_MODEL = "shape_predictor_68_face_landmarks.dat"
INSTALL_HINT = "pip install 'dfd[landmarks]' (or make install)"


def check_provider(name: str) -> str:
    """``name`` if it is a landmark provider, else a one-line error naming the key."""
    if name not in PROVIDERS:
        raise ValueError(f"preprocess.landmarks={name!r}: expected one of {sorted(PROVIDERS)}")
    return name


def dlib68_model_path() -> Path:
    """The 68-point model file shipped by ``face-recognition-models``, found without importing that
    package (its ``__init__`` imports ``pkg_resources``, which current setuptools no longer has)."""
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / "models" / DLIB68_MODEL
        if path.is_file():
            return path
    raise ModuleNotFoundError(
        f"preprocess.landmarks=dlib68 needs {DLIB68_MODEL} from face-recognition-models, which is not "
        f"installed: {INSTALL_HINT}"
    )


@functools.cache
def load_predictor(path: str) -> Any:
    """dlib's shape predictor from ``path``, loaded once per process (0.3 s, 100 MB)."""
    try:
        import dlib
    except ImportError:
        raise ModuleNotFoundError(
            f"preprocess.landmarks=dlib68 needs dlib, which is not installed: {INSTALL_HINT}"
        ) from None
    return dlib.shape_predictor(path)


def predictor_box(box: Sequence[float]) -> tuple[int, int, int, int]:
    """The box fed to the 68-point predictor for an MTCNN ``box`` (x1, y1, x2, y2, frame px): a
    square of the box's width about its centre, the shape of the dlib detector boxes it was
    trained on."""
    x1, y1, x2, y2 = (float(v) for v in box)
    half = (x2 - x1) / 2.0
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    return int(round(cx - half)), int(round(cy - half)), int(round(cx + half)), int(round(cy + half))


class Landmarker:
    """Landmarks of a face in a frame, in frame px, for one provider.

    Holds only the provider's name, so it pickles into spawn workers as it is; the dlib
    predictor is loaded lazily, once per process (:func:`load_predictor`).
    """

    def __init__(self, provider: str = "none") -> None:
        self.provider = check_provider(provider)
        if provider == "dlib68":  # fail at start-up, not in a worker
            load_predictor(str(dlib68_model_path()))

    @property
    def num_points(self) -> int:
        return PROVIDERS[self.provider]

    def __call__(
        self,
        frame: np.ndarray,
        box: Sequence[float],
        points5: Sequence[Sequence[float]] | None = None,
    ) -> np.ndarray | None:
        """float64 [K, 2] landmarks (x, y frame px) of the face in ``box`` of the RGB uint8
        ``frame``; ``points5`` are the points its detector gave: MTCNN's five (``mtcnn5`` returns
        them), or the dlib cropper's 68 (``dlib68`` returns them: predicted on dlib's own box, which
        :func:`predictor_box` only approximates). None when the provider gives none for this face."""
        if self.provider == "none":
            return None
        given = None if points5 is None else np.asarray(points5, dtype=np.float64).reshape(-1, 2)
        if given is not None and len(given) == self.num_points:
            return given
        if self.provider == "mtcnn5":
            return None
        import dlib

        predictor = load_predictor(str(dlib68_model_path()))
        shape = predictor(np.ascontiguousarray(frame), dlib.rectangle(*predictor_box(box)))
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)

    def settings(self) -> dict[str, Any]:
        """What ``manifest.json`` and the preprocessing fingerprint record: provenance, not a crop
        setting (the crops look the same with any provider)."""
        out: dict[str, Any] = {"landmarks": self.provider}
        if self.provider == "dlib68":
            import dlib

            from dfd.core.digest import file_sha256

            path = dlib68_model_path()
            out.update(landmark_model=path.name, landmark_model_sha256=file_sha256(path),
                       dlib_version=dlib.__version__)  # fmt: skip
        return out


@functools.cache
def landmarker(provider: str) -> Landmarker:
    """The process's one :class:`Landmarker` for ``provider`` (workers build theirs on first use)."""
    return Landmarker(provider)


def to_crop(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``points`` [K, 2] in frame px through the 2×3 frame→crop ``matrix``: crop px."""
    points = np.asarray(points, dtype=np.float64)
    return points @ np.asarray(matrix, dtype=np.float64)[:, :2].T + np.asarray(matrix, dtype=np.float64)[:, 2]


def landmark_json(points: np.ndarray | None) -> str:
    """A manifest cell: compact JSON ``[[x,y],...]`` at 2 decimals, or ``""`` for none."""
    if points is None:
        return ""
    return json.dumps([[round(float(x), 2), round(float(y), 2)] for x, y in points], separators=(",", ":"))


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return value != value
    return False


def landmark_array(values: Sequence[object] | np.ndarray) -> np.ndarray:
    """float32 [N, K, 2] landmarks of a manifest's ``crop_landmarks`` column (crop px), NaN for
    rows without any; ``K`` is the provider's point count (0 when no row has landmarks).

    Takes the column as pandas gives it from ``manifest.parquet`` (arrays of the flattened
    points, or None) or from a CSV (JSON text, or NaN), or plain sequences of points. Measured
    here for 200,000 rows of 68 points: 0.35 s from the Parquet column, 3.8 s from CSV text."""
    values = list(values.tolist() if hasattr(values, "tolist") and not isinstance(values, list) else values)
    present = [i for i, v in enumerate(values) if not _is_missing(v)]
    if not present:
        return np.zeros((len(values), 0, 2), np.float32)
    kept = [values[i] for i in present]
    if isinstance(kept[0], str):
        # one parse for all rows: strip the brackets, read every number, split by row lengths
        text = [v.replace("[", " ").replace("]", " ") for v in kept]
        lengths = np.array([t.count(",") + 1 for t in text])
        flat = np.fromstring(",".join(text), dtype=np.float32, sep=",")
    else:
        arrays = [np.asarray(v, dtype=np.float32).ravel() for v in kept]
        lengths = np.array([a.size for a in arrays])
        flat = np.concatenate(arrays)
    if (lengths != lengths[0]).any() or lengths[0] % 2:
        counts = sorted({int(n) // 2 for n in lengths})
        raise ValueError(
            f"crop_landmarks rows hold {counts} points (and odd counts are not points): one "
            "preprocess.landmarks provider per manifest is expected; preprocess the dataset again"
        )
    out = np.full((len(values), int(lengths[0]) // 2, 2), np.nan, np.float32)
    out[present] = flat.reshape(len(present), -1, 2)
    return out


#: Where a dataset of face images (``data=folder``, ``data=deepfakebench``) keeps the landmarks
#: computed for blending, under its ``data.root``: one row per image, keyed by path, size and mtime.
IMAGE_LANDMARKS = "image_landmarks.parquet"


def image_landmarks(
    paths: Sequence[str], cache: str | Path, provider: str = "dlib68", progress: bool = True
) -> list[str]:
    """Landmarks (manifest cells, crop px) of face images that ship without them, computed once.

    Each image is a face crop: MTCNN finds the face in it (the whole image when it finds none, as
    a crop is mostly face) and ``provider`` places its points there, as preprocessing does for
    video frames. Results are kept in ``cache`` (Parquet) keyed by path, size and mtime, so a
    changed image is computed again and an unchanged one never."""
    import os

    import pandas as pd
    from tqdm import tqdm

    check_provider(provider)
    if provider == "none":
        raise ValueError("image landmarks need a provider: mtcnn5 or dlib68 (preprocess.landmarks)")
    cache = Path(cache)
    stats = [os.stat(p) if p and os.path.isfile(p) else None for p in paths]
    keys = [f"{p}|{s.st_size}|{s.st_mtime_ns}" if s else "" for p, s in zip(paths, stats, strict=True)]
    known: dict[str, str] = {}
    if cache.is_file():
        table = pd.read_parquet(cache)
        if table.attrs.get("provider", provider) == provider and "key" in table:
            known = dict(zip(table["key"], table["crop_landmarks"], strict=True))
    todo = sorted({k for k in keys if k and k not in known})
    if todo:
        import cv2

        from dfd.preprocessing.faces import FaceCropper

        cropper = FaceCropper(min_face_size=20, min_score=0.8)
        marker = landmarker(provider)
        for key in tqdm(
            todo, desc=f"{provider} landmarks of face images", unit="image", disable=not progress
        ):
            image = cv2.imread(key.split("|")[0], cv2.IMREAD_COLOR)
            if image is None:
                known[key] = ""
                continue
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            h, w = image.shape[:2]
            face = cropper.detect(image[None])[0]
            box = face.box if face is not None else (0.0, 0.0, float(w), float(h))
            known[key] = landmark_json(marker(image, box, None if face is None else face.landmarks))
        frame = pd.DataFrame({"key": list(known), "crop_landmarks": list(known.values())})
        frame.attrs["provider"] = provider
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, cache)
    return [known.get(k, "") for k in keys]
