"""The FF++ cross protocol's config: every cross dataset the field reports is named, absent ones
are skipped with a reason, and checkpoint selection does not see the methods left out of training."""

from __future__ import annotations

from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from dfd.config.instantiate import register_resolvers
from dfd.evaluation.protocol import present
from tests.conftest import CONF, ROOT, compose_config


def test_ffpp_cross_names_celebdfpp_and_df40_and_selects_on_the_training_methods_only():
    cfg = compose_config("protocol", ["protocol=ffpp_cross"])
    assert {"celebdfpp", "df40"} <= set(cfg.protocol.evaluate_on)
    assert "data.val_follows_train_methods=true" in cfg.protocol.train
    # the key exists in the training data config the protocol trains with
    train = compose_config("train", list(cfg.protocol.train))
    assert train.data.val_follows_train_methods is True
    assert list(train.data.train_methods) == ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"]


def test_absent_celebdfpp_and_df40_are_skipped_with_the_reason(tmp_path):
    register_resolvers()
    overrides = [
        f"paths.root_dir={ROOT}",
        f"paths.data_dir={tmp_path / 'data'}",
        f"paths.log_dir={tmp_path}",
    ]
    cfg = compose_config("protocol", overrides)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF)):
            reasons = {name: present(cfg, name) for name in ("celebdfpp", "df40")}
    finally:
        GlobalHydra.instance().clear()
    assert "python -m dfd.preprocess data=celebdfpp" in reasons["celebdfpp"]
    assert reasons["df40"].endswith(
        f"not found: {tmp_path / 'data' / 'raw' / 'DF40/dataset_json/FSAll_ff.json'}"
    )


def test_presets_compose_with_entries_made_from_existing_data_configs(tmp_path):
    from dfd.evaluation.protocol import evaluation_entries
    from dfd.published.results import published_row

    paths = [f"paths.root_dir={ROOT}", f"paths.data_dir={tmp_path}", f"paths.log_dir={tmp_path}"]
    for preset in ("deepfakebench_v1", "df40_p1", "df40_p2", "df40_p3", "df40_p4", "ffpp_cross"):
        cfg = compose_config("protocol", [f"protocol={preset}", *paths])
        entries = evaluation_entries(cfg.protocol)
        assert entries and all((CONF / "data" / f"{e.data}.yaml").is_file() for e in entries), preset
        detector = cfg.protocol.get("detector")
        if detector:  # the detector has a row under this protocol (values, or a note saying why none)
            row = published_row(detector, preset)
            assert row is not None and (row.values or row.note), preset
    dfb = compose_config("protocol", ["protocol=deepfakebench_v1", *paths]).protocol
    names = [e.name for e in evaluation_entries(dfb)]
    assert names == ["ffpp", "ffpp_c40", "celebdf_v1", "celebdf", "deeperforensics", "dfd", "dfdc", "dfdcp",
                     "faceshifter", "uadfv"]  # fmt: skip
    c40 = evaluation_entries(dfb)[1]
    assert c40.data == "ffpp" and f"data.root={tmp_path}/ffpp_c40" in c40.overrides
    # every published DeepfakeBench key is a test set (or a method of one) the preset evaluates
    assert {k.split("/")[0] for k in published_row("xception", "deepfakebench_v1").values} <= set(names)
    # P4: the training method's JSON trains, and it is left out of the test sets
    p4 = compose_config("protocol", ["protocol=df40_p4", "protocol.train_method=uniface", *paths]).protocol
    p4_names = [e.name for e in evaluation_entries(p4)]
    assert "uniface_ff" not in p4_names and "simswap_ff" in p4_names and len(p4_names) == 30
    train = list(p4.train)  # resolved: the escaped ${data.raw_dir} is left for dfd.train's data config
    assert "data.layout.json_path=${data.raw_dir}/dataset_json/uniface_ff.json" in train
    # the training config they compose to: the detector's experiment, then the protocol's data
    from dfd.published.results import training_experiment

    train_cfg = compose_config("train", [*training_experiment("xception"), *p4.train, *paths])
    assert train_cfg.data.layout.json_path == f"{tmp_path}/raw/DF40/dataset_json/uniface_ff.json"
    assert train_cfg.model.net._target_.endswith("Xception")


def test_a_malformed_entry_is_refused_naming_the_key():
    import pytest
    from omegaconf import OmegaConf

    from dfd.evaluation.protocol import evaluation_entries

    with pytest.raises(ValueError, match=r"protocol.evaluate_on\[1\]=.*give a name"):
        evaluation_entries(OmegaConf.create({"evaluate_on": ["ffpp", {"data": "df40"}]}))


def test_the_table_places_published_numbers_and_marks_what_was_not_run():
    from dfd.evaluation.protocol import display, table
    from dfd.published.results import PublishedRow

    published = PublishedRow("x", "p", "video", "AUC", {"cite": "c"}, {"a": 0.9, "a/m2": 0.8, "b": 0.7})
    results = {"a": {"frame/auc": 0.6, "frame/auc_low": 0.5, "frame/auc_high": 0.7, "video/auc": 0.65,
                     "frame/by_method/m1/auc": 0.55, "frame/by_method/m1/auc_low": 0.4, "frame/by_method/m1/auc_high": 0.7}}  # fmt: skip
    shown = display(table(results, published, names=["a", "b"]))
    assert list(shown.index) == ["a", "a / m1", "a / m2", "b"]
    assert shown.loc["a", "frame AUC [95% CI]"] == "0.6000 [0.500, 0.700]"
    assert (
        shown.loc["a", "published AUC"] == "0.9000 (video) [1]" and shown.loc["a / m1", "published AUC"] == ""
    )
    assert (
        shown.loc["a / m2", "frame AUC [95% CI]"] == "not run"
        and shown.loc["b", "published AUC"] == "0.7000 (video) [1]"
    )


def test_paired_against_a_worse_published_detector_gives_a_small_p_and_the_same_one_p_1(tmp_path):
    import numpy as np
    import pandas as pd

    from dfd.evaluation.protocol import paired

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 200)
    video = np.arange(400) // 4  # 100 videos of 4 frames
    good = 1 / (1 + np.exp(-(3 * labels + rng.normal(size=400))))
    poor = 1 / (1 + np.exp(-(0.2 * labels + rng.normal(size=400))))
    for name, prob in (("good", good), ("poor", poor)):
        order = rng.permutation(400)  # rows in another order: paired by index
        pd.DataFrame({"index": np.arange(400)[order], "video_idx": video[order], "label": labels[order],
                      "prob": prob[order]}).to_csv(tmp_path / f"{name}.csv", index=False)  # fmt: skip
    worse = paired(tmp_path / "good.csv", tmp_path / "poor.csv", n_boot=300, alpha=0.05, seed=0)
    same = paired(tmp_path / "good.csv", tmp_path / "good.csv", n_boot=300, alpha=0.05, seed=0)
    for level in ("frame", "video"):
        d = worse[level]["difference"]
        assert worse[level]["delong"]["p_value"] < 1e-3 and 0 < d["low"] <= d["auc"] <= d["high"]
        assert same[level]["delong"]["p_value"] == 1.0 and same[level]["difference"]["auc"] == 0.0
    assert worse["video"]["n"] == 100 and worse["frame"]["n"] == 400
