"""DeepfakeBench layout: foreign paths resolved, val carved when it equals test."""

from __future__ import annotations

import json
import logging
from collections import Counter

from dfd.raw.layouts.deepfakebench import parse_deepfakebench
from dfd.raw.records import MISSING_FILE


def _bad(records):
    return {r.video_id: r.status for r in records if r.status != "ok"}


def test_deepfakebench_resolves_foreign_paths(deepfakebench_tree):
    records = parse_deepfakebench(
        deepfakebench_tree / "dataset_json" / "FaceForensics++.json", deepfakebench_tree / "rgb"
    )
    assert len(records) == 8 and all(r.status == "ok" for r in records)
    assert all(len(r.frames) == 2 and all(p.is_file() for p in r.frames) for r in records)
    assert Counter((r.split, r.label) for r in records) == {
        ("train", 0): 2,
        ("train", 1): 2,
        ("val", 0): 1,
        ("val", 1): 1,
        ("test", 0): 1,
        ("test", 1): 1,
    }
    assert {r.compression for r in records} == {"c23"}


def test_deepfakebench_val_equal_to_test_warns_and_is_carved_from_train(deepfakebench_tree, caplog):
    with caplog.at_level(logging.WARNING):
        records = parse_deepfakebench(
            deepfakebench_tree / "dataset_json" / "Celeb-DF-v2.json",
            deepfakebench_tree / "rgb",
            val_fraction=0.34,
        )
    assert "val split equals its test split" in caplog.text
    test = {r.video_id for r in records if r.split == "test"}
    val = {r.video_id for r in records if r.split == "val"}
    assert val and not (val & test)
    assert len(records) == 8  # test videos counted once, not again as val


def test_deepfakebench_unresolvable_frames_are_reported(deepfakebench_tree, tmp_path):
    data = json.loads((deepfakebench_tree / "dataset_json" / "FaceForensics++.json").read_text())
    path = tmp_path / "ff.json"
    path.write_text(json.dumps(data))
    records = parse_deepfakebench(path, tmp_path / "elsewhere")
    assert {r.status for r in records} == {MISSING_FILE}
    assert "data.layout.frames_root" in records[0].reason


def test_df40_style_leaks_are_counted_val_overlapping_test_and_frames_in_two_splits(tmp_path, caplog):
    """DF40's JSONs put some videos in val and test and some frames in train and test: both are
    warned about with counts (the data still loads, as the field uses it)."""
    import json

    from dfd.raw.layouts.deepfakebench import parse_deepfakebench

    frames = tmp_path / "rgb"
    for k in range(4):
        (frames / f"v{k}").mkdir(parents=True)
        for f in range(2):
            (frames / f"v{k}" / f"{f}.png").write_bytes(b"png")

    def video(k: int, label: str) -> dict:
        return {"label": label, "frames": [f"/elsewhere/rgb/v{k}/{f}.png" for f in range(2)]}

    data = {"DF40": {"simswap_Fake": {"train": {"a": video(0, "simswap_Fake"), "b": video(1, "simswap_Fake")},
                                      "val": {"c": video(2, "simswap_Fake")},
                                      "test": {"c": video(2, "simswap_Fake"), "d": video(1, "simswap_Fake")}},
                     "FF-real": {"train": {"e": video(3, "FF-real")}, "test": {"f": video(3, "FF-real")}}}}  # fmt: skip
    (tmp_path / "df40.json").write_text(json.dumps(data))
    with caplog.at_level("WARNING"):
        records = parse_deepfakebench(tmp_path / "df40.json", frames)
    assert len(records) == 7
    assert "1 videos are in both val and test (val 1, test 3)" in caplog.text
    # v1's frames are in train (b) and test (d), v3's in train (e) and test (f); v2's in val and test (c)
    assert "6 of 8 frames sit in two splits (test+train: 4, test+val: 2)" in caplog.text


def test_a_json_that_is_not_one_dataset_object_is_named(tmp_path):
    import pytest

    from dfd.raw.records import MetadataError

    (tmp_path / "FF.json").write_text("[]")
    with pytest.raises(MetadataError, match=r"FF.json: expected one top-level dataset key, got list"):
        parse_deepfakebench(tmp_path / "FF.json", tmp_path)


def test_a_df40_mini_tree_loads_with_its_faults_reported_and_real_faces_in_its_crops(
    tmp_path, caplog, cropper
):
    import cv2

    from dfd.data.synthetic.mini import make_df40
    from tests.conftest import SPEC

    root = make_df40(tmp_path / "DF40", n_videos=4, frames_per_video=2, spec=SPEC)
    with caplog.at_level("WARNING"):
        records = parse_deepfakebench(root / "dataset_json" / "FSAll_ff.json", root / "rgb", val_fraction=0.3)
    assert all(r.status == "ok" for r in records) and len(records) == 3 * 4 + 1  # + 000_again
    assert Counter(r.method for r in records) == {"FF-real": 5, "simswap_Fake": 4, "e4s_Fake": 4}
    assert "val split equals its test split" in caplog.text
    # 000_again lists 000's 2 frames in test while 000 is in train (or the val carved from it)
    assert "2 of 24 frames sit in two splits (test+" in caplog.text
    # the crops are faces the preprocessing detector finds, not placeholder bytes
    image = cv2.cvtColor(cv2.imread(str(records[0].frames[0])), cv2.COLOR_BGR2RGB)
    assert image.shape == (128, 128, 3) and cropper.crop_image(image) is not None


def test_fakes_are_made_from_the_reals_their_names_say(deepfakebench_tree):
    json_dir, rgb = deepfakebench_tree / "dataset_json", deepfakebench_tree / "rgb"
    ff = parse_deepfakebench(json_dir / "FaceForensics++.json", rgb)
    # FF++: fake a_b from real a
    assert {r.video_id: r.made_from for r in ff if r.label == 1} == {
        r.video_id: f"FF-real/{r.video_id.split('/')[1].split('_')[0]}" for r in ff if r.label == 1
    }
    cdf = parse_deepfakebench(json_dir / "Celeb-DF-v2.json", rgb)
    reals = {r.video_id for r in cdf if r.label == 0}
    fakes = [r for r in cdf if r.label == 1]
    # Celeb-DF: idA_idB_clip from idA_clip
    assert fakes and all(r.made_from in reals for r in fakes)
    assert all(
        r.made_from.split("/")[1] == "{0}_{2}".format(*r.video_id.split("/")[1].split("_")) for r in fakes
    )
    assert not any(r.made_from for r in ff + cdf if r.label == 0)


def test_deepfakebench_masks_are_matched_to_their_frames_by_name_into_the_mask_column(deepfakebench_tree):
    import cv2

    from dfd.data.image_datamodule import records_to_rows

    records = parse_deepfakebench(
        deepfakebench_tree / "dataset_json" / "FaceForensics++.json", deepfakebench_tree / "rgb"
    )
    fakes = [r for r in records if r.label == 1]
    assert all(r.mask_frames == () for r in records if r.label == 0) and len(fakes) == 4
    for r in fakes:  # listed in reverse, matched by name
        assert [m.name for m in r.mask_frames] == [f.name for f in r.frames]
        assert all(
            m.parent.name == f.parent.name and "masks" in m.parts
            for m, f in zip(r.mask_frames, r.frames, strict=True)
        )
    rows = records_to_rows(records)
    masked = rows[rows["mask_path"].fillna("") != ""]
    assert len(masked) == 8 and set(masked["label"]) == {1}
    forged = [(cv2.imread(p, cv2.IMREAD_GRAYSCALE) > 127).mean() for p in masked["mask_path"]]
    assert all(0.2 < f < 0.9 for f in forged)  # the pasted face in a crop of face and margin
