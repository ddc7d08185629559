"""FakeAVCeleb layout: categories, labels and identity-grouped splits."""

from __future__ import annotations

from dfd.raw.layouts.fakeavceleb import parse_fakeavceleb
from dfd.raw.records import MISSING_FILE, UNLISTED_FILE


def _bad(records):
    return {r.video_id: r.status for r in records if r.status != "ok"}


def test_fakeavceleb_categories_and_identity_groups(fakeavceleb_tree):
    records = parse_fakeavceleb(fakeavceleb_tree, val_fraction=0.2, test_fraction=0.2)
    ok = [r for r in records if r.status == "ok"]
    assert len(ok) == 5 * 4 + 1  # 4 categories per identity + the silent id77777 real
    assert sum(r.label == 0 for r in ok) == 6  # only category A is real
    splits_of_group = {}
    for r in ok:
        splits_of_group.setdefault(r.group, set()).add(r.split)
    assert all(len(s) == 1 for s in splits_of_group.values()), splits_of_group
    assert {r.split for r in ok} == {"train", "val", "test"}
    bad = _bad(records)
    assert sorted(bad.values()) == [MISSING_FILE, UNLISTED_FILE]
    assert any("id88888" in v for v, s in bad.items() if s == UNLISTED_FILE)


def test_each_record_says_which_modality_is_fake(fakeavceleb_tree):
    records = [r for r in parse_fakeavceleb(fakeavceleb_tree) if r.status == "ok"]
    by_category = {}
    for r in records:
        by_category.setdefault(r.path.parts[-5], set()).add(
            (r.label, r.label_video, r.label_audio, r.method.split(":")[0])
        )
    assert by_category["RealVideo-RealAudio"] == {(0, 0, 0, "RVRA")}
    assert by_category["RealVideo-FakeAudio"] == {
        (1, 0, 1, "RVFA")
    }  # a real face: a frame model sees no fake
    assert by_category["FakeVideo-RealAudio"] == {(1, 1, 0, "FVRA")}
    assert by_category["FakeVideo-FakeAudio"] == {(1, 1, 1, "FVFA")}
    assert {r.method for r in records if r.label} >= {"RVFA:rtvc", "FVFA:faceswap-wav2lip"}


def test_a_truncated_meta_data_csv_is_named_with_its_line(fakeavceleb_tree, tmp_path):
    import shutil

    import pytest

    from dfd.raw.records import MetadataError

    tree = shutil.copytree(fakeavceleb_tree, tmp_path / "fakeavceleb")
    meta = tree / "meta_data.csv"
    lines = meta.read_text().splitlines()
    meta.write_text("\n".join(lines[:-1] + [lines[-1].split(",")[0]]) + "\n")  # a download cut mid-row
    with pytest.raises(MetadataError, match=rf"{meta}: line {len(lines)}: FakeAVCeleb metadata has 1 fields"):
        parse_fakeavceleb(tree)
    meta.write_text("\n".join(lines[:-1] + [lines[-1].replace(",A,", ",Z,")]) + "\n")
    with pytest.raises(MetadataError, match=rf"{meta}: line {len(lines)}: category 'Z'"):
        parse_fakeavceleb(tree)


def test_each_fake_is_made_from_the_real_video_of_its_source_identity(fakeavceleb_tree):
    records = [r for r in parse_fakeavceleb(fakeavceleb_tree) if r.status == "ok"]
    real_of = {r.group: r.video_id for r in records if r.label == 0}
    fakes = [r for r in records if r.label == 1]
    assert fakes and all(r.made_from == real_of[r.group] for r in fakes)
    assert all(r.made_from.startswith("RealVideo-RealAudio/") for r in fakes)
