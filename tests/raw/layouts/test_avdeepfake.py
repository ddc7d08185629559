"""LAV-DF and AV-Deepfake1M: video and audio labels, dev as val, withheld test labels skipped, and
the fake segments carried into the manifest."""

from __future__ import annotations

import json

from dfd.data.synthetic.mini import make_avdeepfake
from dfd.raw.layouts.avdeepfake import parse_avdeepfake
from tests.conftest import SPEC


def test_lavdf_labels_splits_and_segments(tmp_path):
    records = parse_avdeepfake(make_avdeepfake(tmp_path / "LAV-DF", n_videos=8, spec=SPEC))
    assert len(records) == 8 and {r.split for r in records} == {"train", "val", "test"}
    by_method = {r.method: r for r in records}
    assert set(by_method) == {"real", "visual", "audio", "audio_visual"}
    assert (by_method["audio"].label, by_method["audio"].label_video, by_method["audio"].label_audio) == (
        1,
        0,
        1,
    )
    assert json.loads(by_method["real"].fake_periods) == []
    assert json.loads(by_method["visual"].fake_periods)[0][0] == 0.2


def test_av1m_skips_the_withheld_test_labels(tmp_path, caplog):
    with caplog.at_level("WARNING"):
        records = parse_avdeepfake(make_avdeepfake(tmp_path / "AV1M", n_videos=8, variant="av1m", spec=SPEC))
    assert {r.split for r in records} == {"train", "val"} and len(records) == 6
    assert "2 entries have no labels" in caplog.text


def test_the_fake_segments_reach_the_manifest(tmp_path, cropper):
    from dfd.preprocessing.manifest import read_manifest
    from dfd.preprocessing.options import PreprocessOptions
    from dfd.preprocessing.runner import run_preprocessing

    records = parse_avdeepfake(make_avdeepfake(tmp_path / "LAV-DF", n_videos=4, spec=SPEC))
    run_preprocessing(records, tmp_path / "crops", cropper, PreprocessOptions(num_frames=2), progress=False)
    rows, _ = read_manifest(tmp_path / "crops")
    ok = rows[rows["status"] == "ok"]
    assert len(ok) and ok["audio_path"].str.endswith(".wav").all()
    periods = ok.groupby("video_id")["fake_periods"].first().map(json.loads)
    assert periods.map(len).tolist().count(1) == 3 and periods.map(len).tolist().count(0) == 1


def test_metadata_that_is_not_a_list_of_entries_is_named(tmp_path):
    import pytest

    from dfd.raw.records import MetadataError

    (tmp_path / "metadata.json").write_text('{"file": "train/0.mp4"}')  # an object, not [entries]
    with pytest.raises(
        MetadataError, match="metadata.json: expected a list of per-video entries, got a dict"
    ):
        parse_avdeepfake(tmp_path)


def test_a_fake_is_made_from_its_entrys_original(tmp_path):
    entries = [
        {"file": "train/000.mp4", "split": "train", "modify_video": False, "modify_audio": False},
        {"file": "train/001.mp4", "split": "train", "modify_video": True, "modify_audio": False,
         "original": "train/000.mp4", "fake_periods": [[0.1, 0.2]]},
        {"file": "train/002.mp4", "split": "train", "modify_video": False, "modify_audio": True,
         "original": None, "fake_periods": [[0.1, 0.2]]},
    ]  # fmt: skip
    (tmp_path / "metadata.json").write_text(json.dumps(entries))
    made_from = {r.video_id: r.made_from for r in parse_avdeepfake(tmp_path)}
    assert made_from == {"train/000": "", "train/001": "train/000", "train/002": ""}
