"""The preprocessing fingerprint: how a model's training crops were made, kept with the model.

A detector trained on crops made one way and shown crops made another way (another detector,
margin, crop size, detection resolution or face choice) loses accuracy silently; it is the most
common failure of the field's inference tools. So every checkpoint and exported model carries
the fingerprint of its training data, read from the manifest (``manifest.json``, written by
preprocessing or by a generator), and ``dfd.eval`` and ``dfd.predict`` compare it with what they
are given. ``dfd.predict`` crops with exactly these settings (:func:`cropper_settings`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dfd.core.digest import file_sha256
from dfd.preprocessing.manifest import MANIFEST_META, manifest_file

#: Settings that decide what a crop looks like; a difference in any of them is warned about.
CROP_KEYS = ("detector", "margin", "crop_size", "detect_max_side", "select", "min_score", "min_face_size", "align", "align_scale",
             "image_format", "jpeg_quality")  # fmt: skip
#: How frames were sampled from a video (frame mode) or cut into clips (clip mode).
SAMPLING_KEYS = ("mode", "frames_per_video", "stride", "index_rounding", "trim_leading_silence", "clip_len",
                 "clips_per_video")  # fmt: skip
#: Which landmarks were stored beside the crops, and with what model: provenance, not a crop setting
#: (crops look the same with any provider), so never compared by :func:`differences`.
LANDMARK_KEYS = ("landmarks", "landmark_model", "landmark_model_sha256", "dlib_version")
#: How the manipulation masks beside the crops were binarised: provenance of the pixel labels, not
#: a crop setting, so never compared either.
MASK_KEYS = ("mask_threshold",)
#: How faces were followed between keyframes (``FaceCropper.keyframe_every``,
#: :mod:`dfd.preprocessing.keyframes`): a speed setting, not a crop setting (tracked boxes sit where
#: the detector puts faces), so recorded and reused by ``dfd.predict`` but never compared. A record
#: without it was made with per-frame detection.
TRACKING_KEYS = ("keyframe_every",)
#: The FaceCropper arguments among :data:`CROP_KEYS`.
CROPPER_KEYS = (
    "margin",
    "crop_size",
    "detect_max_side",
    "select",
    "min_score",
    "min_face_size",
    "align",
    "align_scale",
)


def manifest_sha256(root: str | Path) -> str | None:
    """sha256 of the manifest file training reads (``manifest.parquet``, or the CSV of a dataset
    made before 0.3; None when there is none): which crops exactly."""
    path = manifest_file(root)
    if path is None:
        return None
    return file_sha256(path)


def fingerprint(meta: dict[str, Any], root: str | Path | None = None) -> dict[str, Any]:
    """The fingerprint of a dataset from its manifest metadata (``manifest.json``).

    Manifests of dfd 0.1 say ``size`` for ``crop_size`` and nothing of the image format
    (PNG then); both are normalised here.
    """
    meta = dict(meta)
    if "crop_size" not in meta and "size" in meta:
        meta["crop_size"] = meta["size"]
    meta.setdefault("image_format", "png")
    out = {
        k: meta[k]
        for k in (*CROP_KEYS, *SAMPLING_KEYS, *LANDMARK_KEYS, *MASK_KEYS, *TRACKING_KEYS)
        if k in meta
    }
    out["dataset"] = meta.get("dataset")
    out["manifest_sha256"] = manifest_sha256(root) if root is not None else None
    return out


def check_same_crops(root: str | Path, settings: dict[str, Any]) -> None:
    """Refuse to add crops made with ``settings`` to a folder whose manifest says its crops were made
    otherwise (another cropper, size, frame rule or landmark provider): a rerun skips the finished
    videos, so the folder would hold both kinds under one manifest. Manifests made before the index
    rounding was recorded sampled with ``nearest``."""
    path = Path(root) / MANIFEST_META
    if not path.is_file():
        return
    made = fingerprint(json.loads(path.read_text()))
    made.setdefault("index_rounding", "nearest")
    given = fingerprint(settings)
    diff = {
        k: (made[k], given[k])
        for k in (*CROP_KEYS, *SAMPLING_KEYS, "landmarks")
        if k in made and k in given and made[k] != given[k]
    }
    if diff:
        root = Path(root)
        raise ValueError(
            f"{root} holds crops made otherwise ({describe(diff)}; folder → these settings): preprocess "
            f"into another folder, e.g. data.root={root.parent / root.name}_<preset>, and give training "
            "the same data.root (or delete the folder to remake it)"
        )


def differences(trained: dict[str, Any] | None, given: dict[str, Any] | None) -> dict[str, tuple[Any, Any]]:
    """``{key: (training value, given value)}`` for every crop setting that differs.

    Keys one side does not record are not compared (an older checkpoint, a generated dataset).
    """
    if not trained or not given:
        return {}
    return {
        k: (trained[k], given[k]) for k in CROP_KEYS if k in trained and k in given and trained[k] != given[k]
    }


def describe(diff: dict[str, tuple[Any, Any]]) -> str:
    """``margin 0.2 → 0.3, crop_size 256 → 128`` (training → given)."""
    return ", ".join(f"{k} {a!r} → {b!r}" for k, (a, b) in diff.items())


def cropper_settings(fp: dict[str, Any]) -> dict[str, Any]:
    """The ``FaceCropper`` arguments that reproduce the training crops (and the keyframe tracking
    they were made with, where recorded)."""
    missing = [k for k in ("margin", "crop_size") if k not in fp]
    if missing or not str(fp.get("detector", "")).startswith("facenet-pytorch MTCNN"):
        raise ValueError(
            f"the model's training crops were not made by dfd's MTCNN cropper (detector: {fp.get('detector')!r}"
            + (f", missing {missing}" if missing else "")
            + "): give cropper settings explicitly, e.g. cropper.margin=0.2 cropper.crop_size=256"
        )
    return {k: fp[k] for k in (*CROPPER_KEYS, *TRACKING_KEYS) if k in fp}
