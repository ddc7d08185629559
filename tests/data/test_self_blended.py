"""``data.fakes=self_blended | blended``: fakes made from the real crops of a preprocessed tree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfd.core.input_spec import InputSpec
from dfd.data.datamodule import FaceCropDataModule
from dfd.data.self_blended import BLENDED_SUFFIX, BlendedEvalSet, BlendedPairs
from dfd.preprocessing.manifest import read_manifest, write_manifest
from tests.conftest import FFPP_METHODS

SPEC = InputSpec(64)


def module(root, fakes: str = "self_blended", **kwargs) -> FaceCropDataModule:
    dm = FaceCropDataModule(
        str(root), input_spec=SPEC, batch_size=4, fakes=fakes, layout=None, seed=3, **kwargs
    )
    dm.prepare_data()
    dm.setup()
    return dm


def first_batch(dm: FaceCropDataModule, epoch: int = 0) -> dict:
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(epoch)
    return next(iter(loader))


def test_training_pairs_every_real_crop_with_its_blend(ffpp_out):
    _, root, _ = ffpp_out
    rows, _ = read_manifest(root)
    dm = module(root)
    train = dm.datasets["train"]
    assert isinstance(train, BlendedPairs)
    ok = rows[(rows["status"] == "ok") & (rows["split"] == "train")]
    # only the real crops train: the dataset's fakes are left out in any form
    assert len(train) == int((ok["label"] == 0).sum()) > 0
    assert set(train.sample_table()["label"]) == {0}
    batch = first_batch(dm)
    # 4 crops per batch: 2 reals, each followed by its blend
    assert batch["label"].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert batch["image"].shape == (4, 3, 64, 64) and batch["mask"].shape == (4, 1, 64, 64)
    assert batch["mask"][0::2].abs().sum() == 0
    assert (batch["mask"][1::2].flatten(1).amax(1) > 0.2).all()
    assert batch["index"][0] == batch["index"][1] and batch["video_id"][0] == batch["video_id"][1]
    # each blend changed its crop where its mask is (tests/data/test_blending.py checks the generator)
    for k in (0, 2):
        real, fake, mask = batch["image"][k], batch["image"][k + 1], batch["mask"][k + 1, 0]
        assert (real - fake).abs().mean(0)[mask > 0.5 * mask.max()].mean() > 0.02
    assert dm.class_counts("train") == {0: len(train), 1: len(train)}


def test_each_blend_is_fixed_by_seed_epoch_and_index(ffpp_out):
    _, root, _ = ffpp_out
    a, b = first_batch(module(root)), first_batch(module(root))
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
    # a dataset key (epoch, index) gives the same pair however it is reached
    dataset = module(root).datasets["train"]
    dataset.augment_seed = 11
    one, two = dataset[(2, 1)], dataset[(2, 1)]
    assert torch.equal(one[1]["image"], two[1]["image"])
    other = dataset[(3, 1)]
    assert not torch.equal(one[1]["mask"], other[1]["mask"])


def test_validation_and_test_keep_the_datasets_fakes(ffpp_out):
    _, root, _ = ffpp_out
    dm = module(root)
    for split in ("val", "test"):
        dataset = dm.datasets[split]
        assert not isinstance(dataset, BlendedEvalSet)
        assert set(dataset.sample_table()["method"].dropna()) >= set(FFPP_METHODS)
    examples = dm.blended_examples("val", n=4)
    assert examples["label"].tolist() == [0.0, 1.0, 0.0, 1.0]
    again = dm.blended_examples("val", n=4)
    assert torch.equal(examples["image"], again["image"]) and torch.equal(examples["mask"], again["mask"])
    assert module(root, fakes="dataset").blended_examples("val") is None


def test_a_split_without_fakes_is_its_reals_and_one_blend_of_each(ffpp_out, tmp_path):
    _, root, _ = ffpp_out
    rows, meta = read_manifest(root)
    real_only = rows[rows["label"] == 0]
    for path in real_only["crop_path"].dropna():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).symlink_to(root / path)
    write_manifest(tmp_path, real_only, meta)
    dm = module(tmp_path)
    val = dm.datasets["val"]
    assert isinstance(val, BlendedEvalSet)
    n = len(val.base)
    # interleaved, real then its blend, so a limited validation (limit_val_batches) has both classes
    assert len(val) == 2 * n and val.labels.tolist() == [0.0, 1.0] * n
    table = val.sample_table()
    assert len(table) == 2 * n and table["label"].tolist() == [0, 1] * n
    assert table["video_id"].iloc[1::2].str.endswith(BLENDED_SUFFIX).all()
    assert table["crop_path"].iloc[0::2].tolist() == table["crop_path"].iloc[1::2].tolist()
    # a real video and its blends are different videos to video-level metrics
    assert set(val.video_idx[0::2]).isdisjoint(val.video_idx[1::2])
    assert [val.video_names[v] for v in val.video_idx] == table["video_id"].tolist()
    assert torch.equal(val[1]["image"], val[1]["image"])
    assert val[0]["mask"].sum() == 0 and val[1]["mask"].max() > 0.2


def test_face_xray_blends_each_crop_with_another_video(ffpp_out):
    _, root, _ = ffpp_out
    dm = module(root, fakes="blended")
    train = dm.datasets["train"]
    batch = first_batch(dm)
    assert batch["label"].tolist() == [0.0, 1.0, 0.0, 1.0]
    index = train.blender.index
    rng = np.random.default_rng(0)
    for i in range(len(train)):
        j = index.nearest(i, rng)
        assert train.video_idx[j] != train.video_idx[i]


def test_blending_without_landmarks_names_the_preprocessing_that_adds_them(ffpp_out, tmp_path):
    _, root, _ = ffpp_out
    rows, meta = read_manifest(root)
    rows = rows.assign(crop_landmarks=None)
    write_manifest(tmp_path, rows, {**meta, "landmarks": "none"})
    dm = FaceCropDataModule(str(tmp_path), input_spec=SPEC, fakes="self_blended")
    dm.prepare_data()
    with pytest.raises(ValueError, match=r"preprocess\.landmarks=dlib68"):
        dm.setup()
    # a manifest written before landmarks existed has no such column at all
    old = tmp_path / "old"
    write_manifest(old, rows, meta)
    (old / "manifest.csv").unlink()
    import pyarrow.parquet as pq

    table = pq.read_table(old / "manifest.parquet")
    pq.write_table(table.drop_columns(["crop_landmarks"]), old / "manifest.parquet")
    dm = FaceCropDataModule(str(old), input_spec=SPEC, fakes="self_blended")
    dm.prepare_data()
    with pytest.raises(ValueError, match=r"preprocess\.landmarks=dlib68"):
        dm.setup()
    with pytest.raises(ValueError, match=r"data\.fakes='swapped'"):
        FaceCropDataModule(str(tmp_path), fakes="swapped")
    with pytest.raises(ValueError, match="data.format=files"):
        FaceCropDataModule(str(tmp_path), fakes="self_blended", format="packed")


def test_val_fakes_blended_selects_on_blends_and_leaves_test_its_fakes(ffpp_out):
    _, root, _ = ffpp_out
    dm = module(root, val_fakes="blended")
    val, test = dm.datasets["val"], dm.datasets["test"]
    assert isinstance(val, BlendedEvalSet)
    assert set(val.labels) == {0.0, 1.0}
    assert not set(val.sample_table()["method"].astype(str)) & set(FFPP_METHODS)
    assert set(test.sample_table()["method"].astype(str)) >= set(FFPP_METHODS)
    with pytest.raises(ValueError, match=r"data\.val_fakes='test'"):
        FaceCropDataModule(str(root), val_fakes="test")


@pytest.mark.slow
def test_a_self_blended_run_preempted_mid_epoch_resumes_bit_for_bit(ffpp_out, tmp_path, monkeypatch):
    """Each blend comes from (seed, epoch, index): two loader workers, SIGTERM in the middle of
    epoch 1, resumed with ckpt_path=auto: the weights of the uninterrupted run. Only the preempted
    run has a process of its own; the others run in this one."""
    from tests.conftest import ROOT, run_main, run_module

    _, crops, _ = ffpp_out
    monkeypatch.setenv("DFD_TRUSTED_TARGETS", "tests.*")

    def train(run, *extra):
        args = [
            f"paths.log_dir={tmp_path}", f"hydra.run.dir={run}", "data=ffpp", f"data.root={crops}",
            f"data.layout.methods=[{','.join(FFPP_METHODS)}]", "data.fakes=self_blended", "data.batch_size=4",
            "data.num_workers=2", "data.pin_memory=false", "model.net.input_size=64", "trainer.accelerator=cpu",
            "trainer.max_epochs=3", "trainer.deterministic=true", "trainer.enable_model_summary=false",
            "callbacks.rich_progress_bar=null", "callbacks.early_stopping=null", "seed=5", "test=false", *extra,
        ]  # fmt: skip
        preempted = any(a.startswith("+callbacks.kill.") for a in args)
        return (run_module if preempted else run_main)("dfd.train", args, cwd=ROOT)

    reference = train(tmp_path / "reference")
    assert reference.returncode == 0, reference.stderr[-3000:]
    run = tmp_path / "preempted"
    kill = ["+callbacks.kill._target_=tests.killer.KillAt", "+callbacks.kill.epoch=1", "+callbacks.kill.batch=1",
            "+callbacks.kill.signal_name=SIGTERM"]  # fmt: skip
    assert train(run, *kill).returncode == 75
    resumed = train(run, "ckpt_path=auto")
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    def weights(r):
        return torch.load(r / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]

    ref, got = weights(tmp_path / "reference"), weights(run)
    assert max((ref[k].float() - got[k].float()).abs().max().item() for k in ref) == 0.0


def test_mixup_of_self_blended_pairs_drops_the_masks_it_cannot_mix(ffpp_out, caplog):
    from types import SimpleNamespace

    _, root, _ = ffpp_out
    dm = module(root, augment={"batch_mix": {"mixup_alpha": 0.4, "prob": 1.0}})
    batch = first_batch(dm)
    dm.trainer = SimpleNamespace(training=True)
    mixed = dm.on_after_batch_transfer(dict(batch, image=batch["image"].clone()), 0)
    assert "mask" not in mixed and not torch.equal(mixed["image"], batch["image"])
    dm.on_after_batch_transfer(dict(batch, image=batch["image"].clone()), 0)
    assert sum("blend masks" in r.message for r in caplog.records) == 1


def test_face_images_without_landmarks_get_them_once_for_blending(tmp_path, monkeypatch):
    """A folder of real face images (no preprocessing, no landmarks): blending computes dlib's 68
    points of each once, keeps them under data.root, and reads them from there afterwards."""
    from functools import partial

    import dfd.preprocessing.landmarks as landmarks
    from dfd.data.image_datamodule import ImageListDataModule
    from dfd.data.synthetic import mini
    from dfd.raw.layouts.folder import parse_folder

    raw = mini.make_folder(
        tmp_path / "raw", n_images=6, n_videos=0, spec=mini.VideoSpec(width=192, height=144, n_frames=6)
    )
    root = tmp_path / "root"

    def build() -> ImageListDataModule:
        dm = ImageListDataModule(str(root), layout=partial(parse_folder, raw), input_spec=SPEC, batch_size=4,
                                 fakes="self_blended", val_fraction=0.34)  # fmt: skip
        dm.prepare_data()
        dm.setup()
        return dm

    dm = build()
    train = dm.datasets["train"]
    assert isinstance(train, BlendedPairs) and len(train) > 0
    points = train.blender.landmarks
    assert points.shape[1:] == (68, 2) and np.isfinite(points).all()
    size = train.base.load_image(0).shape[0]
    assert (points > 0).all() and (points < size).all()
    assert (root / landmarks.IMAGE_LANDMARKS).is_file()
    # the second time, nothing is computed: the landmarker is never called
    monkeypatch.setattr(landmarks, "landmarker", lambda provider: pytest.fail("landmarks computed again"))
    again = build().datasets["train"]
    assert np.array_equal(again.blender.landmarks, points)
    assert first_batch(build())["label"].tolist() == [0.0, 1.0, 0.0, 1.0]


def test_five_mtcnn_points_are_enough_for_a_lower_fidelity_blend(ffpp_out, tmp_path):
    """preprocess.landmarks=mtcnn5 crops (eyes, nose tip, mouth corners): the blends' masks are
    ellipses about the five points, inside the crop."""
    from dfd.preprocessing.landmarks import landmark_array, landmark_json

    _, root, _ = ffpp_out
    rows, meta = read_manifest(root)
    points = landmark_array(rows["crop_landmarks"])
    five = np.stack(
        [points[:, 36:42].mean(1), points[:, 42:48].mean(1), points[:, 30], points[:, 48], points[:, 54]], 1
    )
    rows["crop_landmarks"] = [landmark_json(p) if np.isfinite(p).all() else "" for p in five]
    for path in rows["crop_path"].dropna():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).symlink_to(root / path)
    write_manifest(tmp_path, rows, {**meta, "landmarks": "mtcnn5"})
    dm = module(tmp_path)
    assert dm.datasets["train"].blender.landmarks.shape[1:] == (5, 2)
    assert (first_batch(dm)["mask"][1::2].flatten(1).amax(1) > 0.2).all()
    # an ellipse about the five points: the blend's centre of mass lies near theirs
    base, blender = dm.blend_sources["val"]
    examples = dm.blended_examples("val", n=4)
    scale = 64 / base.load_image(0).shape[0]
    for k, i in enumerate(np.linspace(0, len(base) - 1, 2).round().astype(int)):
        mask = examples["mask"][2 * k + 1, 0].numpy()
        ys, xs = np.mgrid[: mask.shape[0], : mask.shape[1]]
        centre = np.array([(xs * mask).sum(), (ys * mask).sum()]) / mask.sum()
        assert np.linalg.norm(centre - blender.landmarks[i].mean(0) * scale) < 0.15 * 64
