"""``dfd.protocol`` presets end to end, in process, on mini trees with a checkpoint given: DeepfakeBench
v1 (FF++ crops; the other datasets absent, skipped and named) with DeepfakeBench's numbers beside
dfd's and the published detector (here the same checkpoint, exported) compared by DeLong; DF40's
protocol 1 on a mini DF40 tree (FSAll_ff present; FRAll_ff and EFSAll_ff skipped)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from dfd.data.synthetic import mini
from tests.conftest import CONF, ROOT, SPEC, compose_config

pytestmark = pytest.mark.slow

#: every evaluation on CPU, in the main process, writing Lightning's logs under the test's folder
EVAL = ("eval_overrides=['trainer.accelerator=cpu','data.num_workers=0','data.pin_memory=false',"
        "'+trainer.enable_progress_bar=false','paths.output_dir={tmp}']")  # fmt: skip


def untrained_meso(path: Path) -> Path:
    """Meso4 at 64 px, untrained, its head scaled so that the scores spread (ranks, not ties)."""
    from tests.fake_runs import make_model_run

    with torch.random.fork_rng():
        torch.manual_seed(0)
        ckpt = make_model_run(path)
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["state_dict"]["net.head.5.weight"] *= 30
    torch.save(checkpoint, ckpt)
    return ckpt


def run(overrides: list[str]) -> dict:
    from dfd.evaluation.tasks import run_protocol

    cfg = compose_config("protocol", overrides)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF)):
            return run_protocol(cfg)
    finally:
        GlobalHydra.instance().clear()


def paths(tmp: Path) -> list[str]:
    return [f"paths.root_dir={ROOT}", f"paths.data_dir={tmp / 'nothing_here'}", f"paths.log_dir={tmp}",
            f"out_dir={tmp / 'out'}", "n_boot=200", EVAL.format(tmp=tmp / 'logs')]  # fmt: skip


def test_deepfakebench_v1_reports_beside_the_published_table_and_against_the_published_detector(
    ffpp_out, tmp_path
):
    from dfd.artifacts.tasks import export

    _, crops, _ = ffpp_out
    ckpt = untrained_meso(tmp_path / "run")
    folder = export(
        compose_config(
            "export",
            [f"ckpt_path={ckpt}", f"out_dir={tmp_path / 'exported'}", f"paths.output_dir={tmp_path}"],
        )
    )
    record = run([
        "protocol=deepfakebench_v1", f"ckpt_path={ckpt}", f"published_path={folder}",
        f"+dataset_overrides.ffpp=['data.root={crops}']", *paths(tmp_path),
    ])  # fmt: skip
    assert set(record["results"]) == {"ffpp"}
    assert set(record["skipped"]) == {"ffpp_c40", "celebdf_v1", "celebdf", "deeperforensics", "dfd", "dfdc",
                                      "dfdcp", "faceshifter", "uadfv"}  # fmt: skip
    m = record["results"]["ffpp"]
    for level in ("frame", "video"):  # both levels, each inside its interval
        assert m[f"{level}/auc_low"] <= m[f"{level}/auc"] <= m[f"{level}/auc_high"]
    for method in ("Deepfakes", "FaceSwap"):  # per method: its own interval, not the dataset's
        key = f"frame/by_method/{method}"
        assert m[f"{key}/auc_low"] <= m[f"{key}/auc"] <= m[f"{key}/auc_high"]
    assert (m["frame/by_method/Deepfakes/auc_low"], m["frame/by_method/Deepfakes/auc_high"]) != (
        m["frame/auc_low"], m["frame/auc_high"])  # fmt: skip
    text = (tmp_path / "out" / "protocol.md").read_text()
    table = text.split("## Against")[0]  # the main table; the comparison with the published detector follows
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert "0.9637 (frame) [1]" in rows["ffpp"] and "0.9799 (frame) [1]" in rows["ffpp / Deepfakes"]
    # in DeepfakeBench's table, not run here: the published number with "not run"
    assert "not run" in rows["ffpp / Face2Face"] and "0.9785 (frame)" in rows["ffpp / Face2Face"]
    assert "not run" in rows["celebdf"] and "0.7365 (frame)" in rows["celebdf"]
    assert (
        "[1] xception, protocol deepfakebench_v1: frame-level AUC" in text
        and "arxiv.org/abs/2307.01426" in text
    )
    assert "- skipped celebdf_v1: " in text and "python -m dfd.preprocess data=celebdf_v1" in text
    # the published detector is this very checkpoint, exported: no difference, DeLong p = 1
    for level in ("frame", "video"):
        r = record["versus_published"]["ffpp"][level]
        assert abs(r["difference"]["auc"]) < 1e-3 and r["delong"]["p_value"] > 0.9
    assert "Against the published detector" in text


def test_df40_p1_runs_on_the_json_it_finds_and_names_the_rest(tmp_path):
    tree = mini.make_df40(tmp_path / "DF40", n_videos=4, frames_per_video=2, leaks=False, spec=SPEC)
    ckpt = untrained_meso(tmp_path / "run")
    record = run([
        "protocol=df40_p1", f"ckpt_path={ckpt}", f"+dataset_overrides.FSAll_ff=['data.raw_dir={tree}']",
        *paths(tmp_path),
    ])  # fmt: skip
    assert set(record["results"]) == {"FSAll_ff"} and set(record["skipped"]) == {"FRAll_ff", "EFSAll_ff"}
    assert record["skipped"]["FRAll_ff"].endswith("dataset_json/FRAll_ff.json")
    m = record["results"]["FSAll_ff"]
    for method in ("simswap_Fake", "e4s_Fake"):  # DF40 labels name the methods: a row and an interval each
        key = f"frame/by_method/{method}"
        assert m[f"{key}/auc_low"] <= m[f"{key}/auc"] <= m[f"{key}/auc_high"]
    text = (tmp_path / "out" / "protocol.md").read_text()
    assert "No published numbers for xception under df40_p1: DF40's numbers are in its paper" in text
