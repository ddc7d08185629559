"""``python -m dfd.verify`` on generated raw trees: the table of expected, found and missing,
missing.txt, ``strict=true``'s exit code, and damaged metadata named by file and line, also by
the preprocessing that would otherwise die on it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import FFPP_METHODS, run_module

METHODS = f"data.layout.methods=[{','.join(FFPP_METHODS)}]"


@pytest.mark.slow  # dfd.verify (and dfd.preprocess) subprocesses
def test_a_mini_ffpp_tree_is_reported_short_with_its_missing_file_listed(ffpp_tree: Path, tmp_path):
    args = ["data=ffpp", f"data.raw_dir={ffpp_tree}", METHODS, "data.layout.include_dfd=true",
            f"out_dir={tmp_path}", f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    proc = run_module("dfd.verify", args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # 3 pairs + the corrupt pair: 2 originals per split, 720 published for train
    assert "original train" in out and "720" in out and "incomplete:" in out
    assert "splits/val.json" in out and "DFD fakes (test)" in out
    missing = (tmp_path / "missing.txt").read_text().splitlines()
    assert missing == ["manipulated_sequences/Deepfakes/c23/videos/991_990.mp4"]
    report = json.loads((tmp_path / "verify.json").read_text())
    assert report["unlisted"] == 1  # 998.mp4: on disk, in no split file
    strict = run_module("dfd.verify", [*args, "strict=true"])
    assert strict.returncode != 0 and "strict: " in strict.stderr and "is incomplete" in strict.stderr


@pytest.mark.slow  # dfd.verify (and dfd.preprocess) subprocesses
def test_a_truncated_split_file_is_named_with_its_line_by_verify_and_by_preprocess(ffpp_tree: Path, tmp_path):
    tree = tmp_path / "ffpp"
    shutil.copytree(ffpp_tree, tree)
    val = tree / "splits" / "val.json"
    val.write_text(val.read_text()[:-1] + ",\n")  # cut off mid-list, as a failed download leaves it
    args = ["data=ffpp", f"data.raw_dir={tree}", METHODS, f"hydra.run.dir={tmp_path / 'run'}"]
    proc = run_module("dfd.verify", [*args, f"out_dir={tmp_path}"])
    assert proc.returncode == 0
    (row,) = [line for line in proc.stdout.splitlines() if line.startswith("splits/val.json")]
    assert (
        row.split()[1:3] == ["required", "broken"] and "line 2, column 1: metadata is not valid JSON" in row
    )
    assert f"cannot read the layout: {val}: line 2, column 1" in proc.stdout
    pre = run_module("dfd.preprocess", [*args, f"data.root={tmp_path / 'crops'}", "preprocess.num_workers=0"])
    assert pre.returncode != 0
    assert f"{val}: line 2, column 1: FF++ split file (val) is not valid JSON" in pre.stderr
    assert "JSONDecodeError" not in pre.stderr


def _verify_in_process(tree: Path, out: Path, *overrides: str):
    from dfd.config.instantiate import register_resolvers
    from dfd.raw.tasks import verify
    from tests.conftest import compose_config

    register_resolvers()
    cfg = compose_config("verify", ["data=dfdc", f"data.raw_dir={tree}", "data_name=dfdc", f"out_dir={out}",
                                    f"paths.output_dir={out}", *overrides])  # fmt: skip
    return verify(cfg)


def test_malformed_dfdc_metadata_is_reported_and_the_table_and_missing_txt_still_written(dfdc_tree, tmp_path):
    tree = shutil.copytree(dfdc_tree, tmp_path / "dfdc")
    part1 = tree / "dfdc_train_part_1" / "metadata.json"
    part1.write_text(json.dumps(list(json.loads(part1.read_text()))))  # valid JSON, but a list
    result = _verify_in_process(tree, tmp_path / "out", "data.layout.val_parts=[1]")
    # part 1's videos are listed as sitting in damaged metadata; part 0 and the test set are counted
    assert result.bad_metadata == sorted(str(p.relative_to(tree)) for p in part1.parent.glob("*.mp4"))
    assert [(c.what, c.found) for c in result.counts][-1] == ("public test set", 2)
    assert (tmp_path / "out" / "missing.txt").read_text().splitlines() == [
        "dfdc_train_part_0/ghost.mp4",
        *result.bad_metadata,
    ]
    labels = tree / "test" / "labels.csv"
    labels.write_text(labels.read_text().rstrip("\n").rsplit(",", 1)[0] + "\n")  # truncated mid-row
    result = _verify_in_process(tree, tmp_path / "out2")
    assert result.layout_error.startswith(f"{labels}: line 3: ")
    assert {f.path: f.status for f in result.files}["test/labels.csv"] == "broken"
    assert (tmp_path / "out2" / "missing.txt").is_file() and (tmp_path / "out2" / "verify.json").is_file()


def test_any_layout_failure_becomes_the_layout_error_and_the_report_is_still_written(
    dfdc_tree, tmp_path, capsys, monkeypatch
):
    def explode(test_dir: Path) -> list:  # a parser tripping on something nobody foresaw
        raise KeyError("label")

    monkeypatch.setattr("dfd.raw.layouts.dfdc._parse_test", explode)
    result = _verify_in_process(dfdc_tree, tmp_path)
    assert result.layout_error == "dfd.raw.layouts.dfdc.parse_dfdc failed with KeyError: 'label'"
    out = capsys.readouterr().out
    assert "cannot read the layout: dfd.raw.layouts.dfdc.parse_dfdc failed with KeyError" in out
    assert "dfdc_train_part_0/metadata.json" in out  # the official files are still checked
    assert (tmp_path / "missing.txt").read_text() == "" and json.loads((tmp_path / "verify.json").read_text())


def test_df40_says_its_json_is_the_expectation_and_counts_its_missing_frames(deepfakebench_tree, tmp_path):
    from dfd.config.instantiate import register_resolvers
    from dfd.raw.tasks import verify
    from tests.conftest import compose_config

    register_resolvers()
    json_path = deepfakebench_tree / "dataset_json" / "FaceForensics++.json"
    cfg = compose_config("verify", ["data=df40", f"data.raw_dir={deepfakebench_tree}", "data_name=df40",
                                    f"data.layout.json_path={json_path}", f"out_dir={tmp_path}",
                                    f"paths.output_dir={tmp_path}"])  # fmt: skip
    result = verify(cfg)
    assert result.counts == [] and not result.layout_error
    assert "the dataset JSON (data.layout.json_path) is the expectation" in "\n".join(result.lines())
    assert "no published counts for this layout" not in "\n".join(result.lines())


def _verify_ffpp_in_process(tree: Path, out: Path, *overrides: str):
    from dfd.config.instantiate import register_resolvers
    from dfd.raw.tasks import verify
    from tests.conftest import compose_config

    register_resolvers()
    cfg = compose_config("verify", ["data=ffpp", f"data.raw_dir={tree}", "data_name=ffpp", f"out_dir={out}",
                                    f"paths.output_dir={out}", *overrides])  # fmt: skip
    return verify(cfg)


def test_a_partial_ffpp_download_counts_the_absent_methods_as_none_of_their_videos(ffpp_tree: Path, tmp_path):
    # data=ffpp asks for all five methods; the mini tree has Deepfakes and FaceSwap only
    result = _verify_ffpp_in_process(ffpp_tree, tmp_path / "out")
    assert result.layout_error == ""
    found = {c.what: (c.expected, c.found) for c in result.counts}
    for method in ("Face2Face", "NeuralTextures", "FaceShifter"):
        assert found[f"{method} train"] == (720, 0) and found[f"{method} test"] == (140, 0)
    assert found["Deepfakes train"][1] > 0 and found["original train"][1] > 0  # present methods still counted
    assert "Face2Face train: 720 of 720 missing" in result.problems()
    missing = (tmp_path / "out" / "missing.txt").read_text().splitlines()
    assert "manipulated_sequences/NeuralTextures/c23/videos/991_990.mp4" in missing


def test_preprocessing_still_refuses_absent_methods_and_names_the_override(ffpp_tree: Path):
    from dfd.raw.layouts.ffpp import parse_ffpp

    with pytest.raises(FileNotFoundError, match=r"data.layout.methods=\[Deepfakes,FaceSwap\]"):
        parse_ffpp(ffpp_tree, methods=("Deepfakes", "FaceSwap", "FaceShifter"))


def test_a_tree_at_another_compression_is_still_a_layout_error_with_the_fix(ffpp_tree: Path, tmp_path):
    result = _verify_ffpp_in_process(ffpp_tree, tmp_path / "out", "data.layout.compression=c40")
    assert "data.layout.compression=c23" in result.layout_error


def test_verify_counts_the_mask_videos_per_method_and_names_the_fakes_without(
    ffpp_tree: Path, tmp_path, capsys
):
    result = _verify_ffpp_in_process(ffpp_tree, tmp_path / "out", METHODS, "data.layout.include_dfd=true")
    counts = {m.method: (m.fakes, m.with_mask, m.without) for m in result.masks}
    # 3 pairs give 6 masked fakes per method; the corrupt pair's fakes on disk have none
    assert counts == {
        "Deepfakes": (7, 6, ["Deepfakes/990_991"]),
        "FaceSwap": (8, 6, ["FaceSwap/990_991", "FaceSwap/991_990"]),
        "DeepFakeDetection": (2, 2, []),
    }
    printed = capsys.readouterr().out
    assert (
        "mask videos" in printed
        and "FaceSwap fakes without a mask video: FaceSwap/990_991, FaceSwap/991_990" in printed
    )
    written = json.loads((tmp_path / "out" / "verify.json").read_text())["masks"]
    assert {m["method"]: m["with_mask"] for m in written} == {
        "Deepfakes": 6,
        "FaceSwap": 6,
        "DeepFakeDetection": 2,
    }
    assert not any("mask" in p for p in result.problems())  # masks are a separate download: reported only
