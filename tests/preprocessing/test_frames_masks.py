"""Per-crop manipulation masks (FF++/DFD ``masks/videos``): cut with the crop's own geometry, written
beside the crops, and the mask-guided face choice in a two-actor scene, trap included."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from dfd.data.synthetic import mini
from dfd.preprocessing.faces import Face
from dfd.preprocessing.fingerprint import fingerprint
from dfd.preprocessing.frames import choose_tracks, process_video_frames
from dfd.preprocessing.manifest import read_manifest
from dfd.preprocessing.options import PreprocessOptions
from dfd.preprocessing.runner import run_preprocessing
from dfd.raw.layouts.ffpp import parse_dfd, parse_ffpp

SPEC = mini.VideoSpec(width=160, height=120, n_frames=8, fps=8)


def read_mask(root, rel: str) -> np.ndarray:
    mask = cv2.imread(str(root / rel), cv2.IMREAD_UNCHANGED)
    assert mask is not None and mask.ndim == 2 and mask.dtype == np.uint8, rel
    assert set(np.unique(mask)) <= {0, 255}
    return mask


def test_ffpp_fake_masks_sit_where_the_fake_differs_from_its_original(tmp_path, cropper):
    """A fake reusing its original's boxes gets its own mask video's frames, cut like its crops: the
    pixels where the fake crop differs from the original's crop lie inside the mask, and the mouth-only
    NeuralTextures mask is a small part of the face."""
    root = mini.make_ffpp(tmp_path / "raw", n_pairs=3, methods=("FaceSwap", "NeuralTextures", "FaceShifter"),
                          split_pairs=(1, 1, 1), spec=SPEC)  # fmt: skip
    assert not (root / "manipulated_sequences" / "FaceShifter" / "masks").exists()  # FF++ ships none
    records = {r.video_id: r for r in parse_ffpp(root, methods=("FaceSwap", "NeuralTextures", "FaceShifter"))}
    assert (
        records["FaceSwap/000_001"].mask_path is not None and records["FaceShifter/000_001"].mask_path is None
    )
    out = tmp_path / "crops"
    options = PreprocessOptions(num_frames=4, audio=False)
    real = process_video_frames(records["original/000"], out, cropper, options)
    assert real and all(r["mask_path"] == "" for r in real)
    forged = {}
    for method in ("FaceSwap", "NeuralTextures"):
        rows = process_video_frames(records[f"{method}/000_001"], out, cropper, options)
        assert [r["frame_idx"] for r in rows] == [r["frame_idx"] for r in real]  # the original's boxes
        fractions = []
        for fake_row, real_row in zip(rows, real, strict=True):
            assert fake_row["mask_path"] == fake_row["crop_path"].replace("crops/", "masks/")
            mask = read_mask(out, fake_row["mask_path"]) > 0
            assert mask.shape == (cropper.crop_size, cropper.crop_size)
            fake = cv2.imread(str(out / fake_row["crop_path"])).astype(int)
            orig = cv2.imread(str(out / real_row["crop_path"])).astype(int)
            changed = np.abs(fake - orig).max(axis=-1) > 30  # beyond H.264 noise
            inside = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            assert changed.sum() > 100 and (changed & inside).sum() / changed.sum() > 0.97
            fractions.append(mask.mean())
        forged[method] = float(np.mean(fractions))
    assert 0.25 < forged["FaceSwap"] < 0.8 and 0.02 < forged["NeuralTextures"] < forged["FaceSwap"] / 2
    shifter = process_video_frames(records["FaceShifter/000_001"], out, cropper, options)
    assert (
        shifter
        and all(r["mask_path"] == "" for r in shifter)
        and not (out / "masks" / "FaceShifter").exists()
    )
    # a higher threshold keeps only the mask video's brightest pixels: never more of them
    strict = process_video_frames(records["FaceSwap/000_001"], tmp_path / "strict", cropper,
                                  dataclasses.replace(options, mask_threshold=250))  # fmt: skip
    assert (
        np.mean([read_mask(tmp_path / "strict", r["mask_path"]).mean() / 255 for r in strict])
        <= forged["FaceSwap"]
    )


def test_two_actor_scene_masks_label_the_swapped_face_and_the_main_track_would_not(tmp_path, cropper):
    """DFD's trap (yermandy/deepfake-detection #7): in the scene whose left actor was swapped, the
    right actor's face is the larger, so the main track is the untouched person. With the mask, the
    left track is fake with non-empty masks and the right one real with all-zero masks; choosing
    without the mask labels the right (wrong) person fake."""
    root = mini.make_dfd(tmp_path / "FaceForensics++", spec=SPEC)
    records = parse_dfd(root)
    run_preprocessing(records, tmp_path / "crops", cropper, PreprocessOptions(num_frames=4), progress=False)
    rows, meta = read_manifest(tmp_path / "crops")
    assert meta["mask_threshold"] == 127 and fingerprint(meta)["mask_threshold"] == 127  # kept with models
    rows = rows[rows["status"] == "ok"]
    half = SPEC.width  # two SPEC-wide halves side by side

    fake = rows[rows["video_id"] == "DeepFakeDetection/01_02__meeting__MASKED"]
    side = {
        int(t): "left" if ((g["x1"] + g["x2"]) / 2 < half).all() else "right"
        for t, g in fake.groupby("track")
    }
    assert sorted(side.values()) == ["left", "right"]
    for track, group in fake.groupby("track"):
        masks = [read_mask(tmp_path / "crops", p) for p in group["mask_path"]]
        if side[int(track)] == "left":
            assert set(group["label"]) == {1} and min(m.mean() / 255 for m in masks) > 0.2
        else:
            assert set(group["label"]) == {0} and max(m.max() for m in masks) == 0  # "nothing forged here"
    nomask = rows[rows["video_id"] == "DeepFakeDetection/03_04__meeting__NOMASK"]
    assert set(nomask["track"]) == {0} and nomask["mask_path"].isna().all()
    assert nomask["reason"].str.contains("no mask says which face was swapped").all()
    assert rows.loc[rows["label"] == 0, "mask_path"].notna().sum() == (fake["label"] == 0).sum()

    # the same detections, chosen without the mask: only the main track, and it is the right actor
    record = next(r for r in records if r.video_id.endswith("MASKED"))
    indices = sorted(fake["frame_idx"].unique())
    faces = [[Face(box=(r.x1, r.y1, r.x2, r.y2), score=float(r.score)) for r in fake[fake["frame_idx"] == i].itertuples()]
             for i in indices]  # fmt: skip
    blind = choose_tracks(dataclasses.replace(record, mask_path=None), indices, faces)
    guided = choose_tracks(record, indices, faces)
    fake_side = {
        name: {"left" if (f.box[0] + f.box[2]) / 2 < half else "right" for _, label, fs, _ in picks if label
               for f in fs if f is not None}
        for name, picks in (("blind", blind), ("guided", guided))
    }  # fmt: skip
    assert len(blind) == 1 and "no mask says which face" in blind[0][3]
    assert fake_side == {"blind": {"right"}, "guided": {"left"}}  # the wrong person, without the mask


@pytest.mark.parametrize("threshold", [-1, 255])
def test_mask_threshold_out_of_range_is_refused_naming_the_key(threshold):
    with pytest.raises(ValueError, match="preprocess.mask_threshold"):
        PreprocessOptions(mask_threshold=threshold)
