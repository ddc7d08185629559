"""dfd.predict from the command line: a checkpoint or an exported folder, a folder of raw videos and
photos in, one row per input out, the same scores from both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_main, run_module

pytestmark = pytest.mark.slow


def _predict(model: Path, inputs: Path | str, out: Path, *extra: str) -> pd.DataFrame:
    """``dfd.predict`` in this process (the refusal and warning tests below run its own process)."""
    proc = run_main("dfd.predict", [f"ckpt_path={model}", f"input={inputs}", f"output={out}",
                                      f"hydra.run.dir={out.parent}", *extra])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "inputs scored with" in proc.stdout
    return pd.read_csv(out)


def test_checkpoint_and_exported_model_give_the_same_scores(ffpp_run, exported_model, ffpp_tree, tmp_path):
    videos = sorted((ffpp_tree / "original_sequences/youtube/c23/videos").glob("00[0-3].mp4"))
    videos += sorted((ffpp_tree / "manipulated_sequences/FaceSwap/c23/videos").glob("00*.mp4"))
    (tmp_path / "list.txt").write_text("\n".join(str(v) for v in videos) + "\nnowhere.mp4\n")
    rows = {}
    for name, model, extra in (("ckpt", ffpp_run, []), ("onnx", exported_model, ["visualize=true"]),
                               ("torch", exported_model, ["backend=torch"])):  # fmt: skip
        rows[name] = _predict(
            model, tmp_path / "list.txt", tmp_path / name / "predictions.csv", "per_frame=true", *extra
        )
    ckpt = rows["ckpt"]
    assert len(ckpt) == len(videos) + 1 and ckpt["status"].tolist()[-1] == "missing"
    ok = ckpt["status"] == "ok"
    assert ok.sum() == len(videos) and set(ckpt.loc[ok, "decision"]) <= {"fake", "real"}
    for other in ("onnx", "torch"):
        assert np.abs(rows[other].loc[ok, "score"].to_numpy() - ckpt.loc[ok, "score"].to_numpy()).max() < 1e-4
    frames = pd.read_csv(tmp_path / "ckpt" / "predictions_frames.csv")
    assert len(frames) == ckpt.loc[ok, "faces_found"].sum() and {"frame_idx", "track", "x1", "score"} <= set(
        frames
    )
    # visualize=true: one picture per scored input (Grad-CAM through the folder's safetensors), and the
    # scores stay those of ONNX Runtime (compared above)
    from PIL import Image

    pictures = sorted((tmp_path / "onnx" / "explanations").glob("*.png"))
    assert [p.name for p in pictures] == [f"{k:04d}_{v.stem}.png" for k, v in enumerate(videos)]
    with Image.open(pictures[0]) as picture:
        assert picture.width >= 700 and picture.height > 300
    # the model learned something: its fakes score above its reals on average
    fake = ckpt["path"].str.contains("manipulated")
    assert ckpt.loc[ok & fake, "score"].mean() > ckpt.loc[ok & ~fake, "score"].mean()


def test_a_tampered_export_is_refused_with_the_reason(exported_model, tmp_path):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(exported_model, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit pattern in the last weight
    weights.write_bytes(bytes(data))
    proc = run_module(
        "dfd.predict", [f"ckpt_path={copy}", f"input={tmp_path}", f"hydra.run.dir={tmp_path / 'run'}"]
    )
    assert proc.returncode != 0 and "model.safetensors differs from the file that was exported" in proc.stderr


def test_other_crop_settings_are_warned_about(ffpp_run, ffpp_tree, tmp_path):
    video = ffpp_tree / "original_sequences/youtube/c23/videos/000.mp4"
    proc = run_module("dfd.predict", [f"ckpt_path={ffpp_run}", f"input={video}", f"output={tmp_path / 'p.csv'}",
                                      "cropper.margin=0.4", f"hydra.run.dir={tmp_path}"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cropping unlike the model's training crops (margin 0.2 → 0.4)" in proc.stdout + proc.stderr


def test_every_input_gets_a_row_whatever_its_name(exported_model, ffpp_tree, tmp_path):
    import os
    import shutil

    from PIL import Image
    from skimage import data

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    videos = sorted((ffpp_tree / "original_sequences/youtube/c23/videos").glob("*.mp4"))[:5]
    photo = Image.fromarray(data.astronaut()).resize((256, 256))
    names = []
    for k in range(25):  # 9 of the 25 named in Latin-1 bytes, not UTF-8 (as old cameras and zips do)
        raw = (b"caf\xe9_%02d" if k % 3 == 0 else b"clip_%02d") % k + (b".mp4" if k < 5 else b".jpg")
        name = os.fsdecode(raw)
        if k < 5:
            shutil.copy(videos[k], inputs / name)
        else:
            photo.save(inputs / name, format="JPEG")
        names.append(name)
    out = tmp_path / "p.csv"
    rows = _predict(exported_model, inputs, out, "per_frame=true")
    assert len(rows) == 25 and (rows["status"] == "ok").all(), rows[["path", "status", "reason"]]
    written = sorted(Path(p).name for p in rows["path"])
    assert written == sorted(n.encode("utf-8", "backslashreplace").decode() for n in names)
    assert sum("caf\\udce9_" in p for p in rows["path"]) == 9  # the surrogate escape, as text
    frames = pd.read_csv(tmp_path / "p_frames.csv")
    assert set(frames["path"]) == set(rows["path"])
    # a listed path a spreadsheet would run as a formula is written with a leading quote
    (tmp_path / "list.txt").write_text("=cmd|calc!A0.jpg\n")
    proc = run_main("dfd.predict", [f"ckpt_path={exported_model}", "input=list.txt", "output=q.csv",
                                    f"hydra.run.dir={tmp_path}"], cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    listed = pd.read_csv(tmp_path / "q.csv")
    assert listed["path"].tolist() == ["'=cmd|calc!A0.jpg"] and listed["status"].tolist() == ["missing"]
    assert listed["reason"].tolist() == ["'=cmd|calc!A0.jpg does not exist"]
    # its picture too: titled with the escape as text, saved under the input's own bytes
    odd = shutil.copy(inputs / names[6], (tmp_path / "one").mkdir() or tmp_path / "one")  # caf\xe9_06.jpg
    _predict(
        exported_model,
        tmp_path / "one",
        tmp_path / "v.csv",
        "visualize=true",
        f"visualize_dir={tmp_path / 'vis'}",
    )
    assert [p.name for p in (tmp_path / "vis").iterdir()] == [f"0000_{Path(odd).stem}.png"]


def test_a_localising_checkpoint_pictures_its_predicted_masks(
    ffpp_out, ffpp_run, data_dir, ffpp_tree, tmp_path
):
    """model.localization=true travels with the run: dfd.predict rebuilds the head from the
    checkpoint's config and draws a third row, the predicted blend masks, which the plain run's
    picture of the same video does not have."""
    from omegaconf import open_dict
    from PIL import Image

    from dfd.artifacts.runs import load_detector
    from dfd.training.tasks import train
    from tests.conftest import FFPP_METHODS, base_overrides, compose_config

    _, crops, _ = ffpp_out
    run = tmp_path / "run"
    cfg = compose_config("train", base_overrides(run, data_dir) + [
        "data=ffpp", f"data.root={crops}", f"data.layout.methods=[{','.join(FFPP_METHODS)}]", "data.batch_size=8",
        "data.num_workers=0", "data.pin_memory=false", "model.net.input_size=64", "model.localization=true",
        "trainer.max_epochs=1", "callbacks.early_stopping=null", "test=false",
    ])  # fmt: skip
    with open_dict(cfg):
        cfg.callbacks.pop("rich_progress_bar", None)
    train(cfg)
    ckpt = run / "checkpoints" / "last.ckpt"
    assert load_detector(ckpt).net.localization
    video = sorted((ffpp_tree / "original_sequences/youtube/c23/videos").glob("00*.mp4"))[0]
    heights = []
    for name, model in (("mask", ckpt), ("plain", ffpp_run)):
        _predict(model, video, tmp_path / name / "predictions.csv", "visualize=true",
                 f"visualize_dir={tmp_path / name / 'vis'}")  # fmt: skip
        (picture,) = (tmp_path / name / "vis").glob("*.png")
        with Image.open(picture) as image:
            heights.append(image.height)
    assert heights[0] > heights[1]
