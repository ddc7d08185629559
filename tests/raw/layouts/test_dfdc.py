"""DFDC layout: parts to splits, fakes follow their originals."""

from __future__ import annotations

from collections import Counter

import pytest

from dfd.raw.layouts.dfdc import parse_dfdc
from dfd.raw.records import MISSING_FILE, UNLISTED_FILE


def _bad(records):
    return {r.video_id: r.status for r in records if r.status != "ok"}


def test_dfdc_parts_split_and_fakes_follow_originals(dfdc_tree):
    records = parse_dfdc(dfdc_tree, val_parts=[1])
    ok = [r for r in records if r.status == "ok"]
    by_id = {r.video_id: r for r in records}
    assert Counter((r.split, r.label) for r in ok) == {
        ("train", 0): 3,  # p0real0, silent, empty (empty is caught at decode time, not here)
        ("train", 1): 2,
        ("val", 0): 1,
        ("val", 1): 2,
        ("test", 0): 1,
        ("test", 1): 1,
    }
    assert by_id["p1fake01"].group == "p1real0" and by_id["p1fake01"].split == "val"
    assert all(r.has_audio for r in records)
    assert _bad(records) == {"ghost": MISSING_FILE, "stray": UNLISTED_FILE}


def test_dfdc_missing_metadata_is_named(dfdc_tree, tmp_path):
    (tmp_path / "dfdc_train_part_3").mkdir()
    with pytest.raises(FileNotFoundError, match="dfdc_train_part_3/metadata.json"):
        parse_dfdc(tmp_path)


def test_a_truncated_part_metadata_is_reported_and_the_other_parts_are_read(
    dfdc_tree, cropper, tmp_path, caplog
):
    import shutil

    from dfd.preprocessing.manifest import read_manifest
    from dfd.preprocessing.options import PreprocessOptions
    from dfd.preprocessing.runner import run_preprocessing
    from dfd.raw.records import BAD_METADATA

    tree = tmp_path / "dfdc"
    shutil.copytree(dfdc_tree, tree)
    meta = tree / "dfdc_train_part_0" / "metadata.json"
    meta.write_text(meta.read_text()[: len(meta.read_text()) // 2])  # a download cut in half
    with caplog.at_level("WARNING"):
        records = parse_dfdc(tree, val_parts=[1])
    bad = [r for r in records if r.status == BAD_METADATA]
    part0 = sorted(p.stem for p in (tree / "dfdc_train_part_0").glob("*.mp4"))
    assert sorted(r.video_id for r in bad) == part0 and len(part0) >= 3
    assert all(r.reason.startswith(f"{meta}: line ") and "is not valid JSON" in r.reason for r in bad)
    assert f"skipping the {len(part0)} videos of dfdc_train_part_0" in caplog.text
    # the other part (validation) and the test set are read as usual
    assert {r.split for r in records if r.status == "ok"} == {"val", "test"}
    # and preprocessing gives each skipped video a manifest row with the reason (nothing decoded)
    summary = run_preprocessing(bad, tmp_path / "crops", cropper, options=PreprocessOptions(), progress=False)
    rows, _ = read_manifest(tmp_path / "crops")
    assert set(rows["status"]) == {BAD_METADATA} and len(rows) == len(part0) == summary.statuses[BAD_METADATA]
    assert rows["reason"].str.contains("dfdc_train_part_0/metadata.json: line").all()


def _copy(tree, tmp_path):
    import shutil

    return shutil.copytree(tree, tmp_path / "dfdc")


def test_a_truncated_test_labels_csv_is_named_with_its_line(dfdc_tree, tmp_path):
    from dfd.raw.records import MetadataError

    tree = _copy(dfdc_tree, tmp_path)
    labels = tree / "test" / "labels.csv"
    labels.write_text(labels.read_text().rstrip("\n").rsplit(",", 1)[0] + "\n")  # the last label cut off
    with pytest.raises(MetadataError, match=rf"{labels}: line 3: .* 1 fields where the header has 2"):
        parse_dfdc(tree, val_parts=[1])
    labels.write_text("filename,label\nt000.mp4,0\nt001.mp4,yes\n")
    with pytest.raises(MetadataError, match=rf"{labels}: line 3: label 'yes' of 't001.mp4' is not 0 or 1"):
        parse_dfdc(tree, val_parts=[1])


@pytest.mark.parametrize("damage", ["a list", "a bad label"])
def test_a_part_with_unusable_metadata_is_marked_and_the_others_are_read(dfdc_tree, tmp_path, damage):
    import json

    from dfd.raw.records import BAD_METADATA

    tree = _copy(dfdc_tree, tmp_path)
    meta = tree / "dfdc_train_part_1" / "metadata.json"
    entries = json.loads(meta.read_text())
    if damage == "a list":
        meta.write_text(json.dumps([{"file": k, **v} for k, v in entries.items()]))
        reason = f"{meta}: expected an object mapping file names to {{label, original}}, got a list"
    else:
        entries["p1fake01.mp4"]["label"] = "MAYBE"
        meta.write_text(json.dumps(entries, indent=1))
        line = meta.read_text().splitlines().index(' "p1fake01.mp4": {') + 1
        reason = f"{meta}: line {line}: entry 'p1fake01.mp4' has no label REAL or FAKE"
    records = parse_dfdc(tree, val_parts=[1])
    bad = [r for r in records if r.status == BAD_METADATA]
    assert sorted(r.video_id for r in bad) == sorted(p.stem for p in meta.parent.glob("*.mp4"))
    assert all(r.reason.startswith(reason) for r in bad), bad[0].reason
    # part 0 (train) and the test set are read as usual
    assert {r.split for r in records if r.status == "ok"} == {"train", "test"}


def test_each_dfdc_fake_is_made_from_its_metadata_original(dfdc_tree):
    records = parse_dfdc(dfdc_tree, val_parts=[1])
    reals = {r.video_id for r in records if r.label == 0}
    training_fakes = [r for r in records if r.label == 1 and r.split != "test"]
    assert training_fakes and all(r.made_from in reals and r.made_from == r.group for r in training_fakes)
    # the test part's labels.csv names no originals
    assert not any(r.made_from for r in records if r.split == "test" or r.label == 0)
