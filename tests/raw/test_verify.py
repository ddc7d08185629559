"""Raw-tree verification: published counts against records, official files that parse or not
(file and line named), checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dfd.raw.expected import expected_counts
from dfd.raw.records import MISSING_FILE, VideoRecord
from dfd.raw.verify import check_checksums, check_official_files, verify_records


def _uadfv_records(root: Path, real: int, fake: int, missing: int = 0) -> list[VideoRecord]:
    out = [
        VideoRecord(
            path=root / f"real/{i}.mp4", video_id=f"r{i}", label=0, method="real", split="test", group=f"r{i}"
        )
        for i in range(real)
    ]
    out += [
        VideoRecord(
            path=root / f"fake/{i}.mp4", video_id=f"f{i}", label=1, method="fake", split="test", group=f"f{i}"
        )
        for i in range(fake)
    ]
    out += [
        VideoRecord(path=root / f"fake/m{i}.mp4", video_id=f"m{i}", label=1, method="fake", split="test",
                    group=f"m{i}", status=MISSING_FILE, reason="listed")
        for i in range(missing)
    ]  # fmt: skip
    return out


def test_a_copy_with_every_published_video_is_complete_and_one_short_is_not(tmp_path):
    expects = expected_counts("dfd.raw.layouts.uadfv.parse_uadfv")
    assert [(e.what, e.n) for e in expects] == [("real (test)", 49), ("fake (test)", 49)]
    complete = verify_records(_uadfv_records(tmp_path, 49, 49), expects, tmp_path)
    assert not complete.failed() and "complete" in complete.lines()
    short = verify_records(_uadfv_records(tmp_path, 49, 47, missing=1), expects, tmp_path)
    assert [(c.found, c.short, c.listed_missing) for c in short.counts] == [(49, 0, 0), (47, 2, 1)]
    assert short.problems() == ["fake (test): 2 of 49 missing", "1 files listed by the metadata are missing"]
    assert short.missing == ["fake/m0.mp4"]
    table = "\n".join(short.lines())
    assert "fake (test)" in table and "incomplete:" in table


def test_ffpp_counts_follow_the_configured_methods():
    expects = expected_counts("dfd.raw.layouts.ffpp.parse_ffpp", methods=["Deepfakes"], include_dfd=True)
    assert {e.what: e.n for e in expects} == {
        "original train": 720, "original val": 140, "original test": 140,
        "Deepfakes train": 720, "Deepfakes val": 140, "Deepfakes test": 140,
        "DFD originals (test)": 363, "DFD fakes (test)": 3068,
    }  # fmt: skip
    assert expected_counts("dfd.raw.layouts.folder.parse_folder") == []


def test_a_truncated_json_names_its_line_and_a_ragged_csv_its_row(tmp_path):
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "train.json").write_text('[["000", "001"]]')
    (tmp_path / "splits" / "val.json").write_text('[["002", "003"],\n')
    (tmp_path / "labels.csv").write_text("filename,label\na.mp4,1\nb.mp4\n")
    checks = check_official_files(tmp_path, [("splits/train.json", True), ("splits/val.json", True),
                                             ("splits/test.json", True), ("labels.csv", False)])  # fmt: skip
    by_path = {c.path: c for c in checks}
    assert by_path["splits/train.json"].status == "ok"
    assert by_path["splits/val.json"].status == "broken"
    assert by_path["splits/val.json"].error.startswith("line 2, column 1: metadata is not valid JSON")
    assert by_path["splits/test.json"].status == "missing"
    assert by_path["labels.csv"].error == "line 3: 1 fields where the header has 2"


def test_checksums_sort_files_into_ok_mismatch_and_absent(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"aaa")
    (tmp_path / "b.mp4").write_bytes(b"bbb")
    good = hashlib.sha256(b"aaa").hexdigest()
    (tmp_path / "sums.txt").write_text(f"{good}  a.mp4\n{good} *b.mp4\n{good}  c.mp4\n")
    assert check_checksums(tmp_path, tmp_path / "sums.txt") == {
        "ok": ["a.mp4"],
        "mismatch": ["b.mp4"],
        "absent": ["c.mp4"],
    }


def test_deeperforensics_with_every_level_expects_the_eleven_published_folders():
    target = "dfd.raw.layouts.deeperforensics.parse_deeperforensics"
    expects = expected_counts(target, levels=None)
    assert len(expects) == 11 and {e.n for e in expects} == {1000} and not any(e.approx for e in expects)
    assert {"end_to_end", "reenact_postprocess", "end_to_end_level_5", "end_to_end_mix_4_distortions"} <= {
        e.methods[0] for e in expects
    }
    assert [e.what for e in expected_counts(target, levels=["end_to_end"])] == ["end_to_end (all splits)"]


def test_av_deepfake1m_is_held_to_its_own_counts_and_lavdf_to_its_own(tmp_path):
    target = "dfd.raw.layouts.avdeepfake.parse_avdeepfake"
    (tmp_path / "lavdf").mkdir()
    (tmp_path / "lavdf" / "metadata.json").write_text("[]")
    (tmp_path / "av1m").mkdir()
    (tmp_path / "av1m" / "train_metadata.json").write_text("[]")
    lavdf = {e.what: e.n for e in expected_counts(target, root=str(tmp_path / "lavdf"))}
    assert lavdf == {"train": 78703, "dev (val)": 31501, "test": 26100}
    assert {e.what: e.n for e in expected_counts(target, root=str(tmp_path / "av1m"))} == {
        "train": 746180,
        "val": 57340,
    }
