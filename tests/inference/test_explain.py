"""Grad-CAM over face crops: the explained layer is found for every net shape, the heatmap is warm
where the fake logit's evidence is, and a scored input becomes one picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dfd.core.input_spec import InputSpec
from dfd.inference.detector import ModelInfo, TorchDetector
from dfd.inference.explain import Explainer, FakeLogitTarget, cam_layer, explain_prediction
from dfd.inference.predictor import Media, Prediction
from dfd.models.nets.mesonet import Meso4

SPEC = InputSpec(size=32, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


class BrightnessNet(nn.Module):
    """Fake logit = mean brightness: the evidence is wherever the image is bright."""

    def __init__(self, num_classes: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4, num_classes)
        with torch.no_grad():
            conv = self.features[0]
            conv.weight.zero_()
            conv.weight[:, :, 1, 1] = 1.0 / 3
            conv.bias.zero_()
            self.head.weight.fill_(1.0)
            if num_classes == 2:
                self.head.weight[0].fill_(-1.0)
            self.head.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))


def _crop_with_bright_corner() -> np.ndarray:
    crop = np.full((32, 32, 3), 10, dtype=np.uint8)
    crop[:12, :12] = 250  # the top-left corner carries the evidence
    return crop


@pytest.mark.parametrize("num_classes", [1, 2])
def test_the_heatmap_is_warm_where_the_evidence_is(num_classes: int) -> None:
    net = BrightnessNet(num_classes)
    explainer = Explainer(net, TorchDetector(net, ModelInfo(SPEC)))
    assert explainer.layer is net.features  # the last spatial map (the block ending with the ReLU)
    (heat,) = explainer.heatmaps([_crop_with_bright_corner()])
    assert heat.shape == (32, 32) and heat.min() >= 0 and heat.max() <= 1
    assert heat[:12, :12].mean() > 0.9 and heat[16:, 16:].mean() < 0.1


def test_the_fake_logit_target_matches_the_scores_convention() -> None:
    assert FakeLogitTarget()(torch.tensor([2.0])).item() == 2.0
    assert FakeLogitTarget()(torch.tensor([1.0, 3.5])).item() == 2.5  # z1 - z0


def test_meso4_is_explained_at_a_spatial_map_and_gives_one_map_per_crop() -> None:
    net = Meso4()
    layer = cam_layer(net, 256)
    out = {}

    def record(_module, _inputs, output) -> None:
        out["shape"] = output.shape

    layer.register_forward_hook(record)
    net(torch.zeros(1, 3, 256, 256))
    assert len(out["shape"]) == 4 and min(out["shape"][-2:]) >= 2
    explainer = Explainer(net, TorchDetector(net, ModelInfo(net.input_spec)))
    maps = explainer.heatmaps([np.random.default_rng(0).integers(0, 255, (100, 90, 3), dtype=np.uint8)] * 3)
    assert maps.shape == (3, 256, 256)


def test_a_net_without_a_spatial_map_says_so() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 1))
    with pytest.raises(ValueError, match="no spatial feature map"):
        cam_layer(net, 8)


def test_a_scored_video_becomes_one_picture_and_an_unscored_input_none(tmp_path: Path) -> None:
    from PIL import Image

    net = BrightnessNet()
    explainer = Explainer(net, TorchDetector(net, ModelInfo(SPEC)))
    frames = [np.full((60, 80, 3), 30 * k, dtype=np.uint8) for k in range(4)]
    crops = [_crop_with_bright_corner() for _ in range(4)]
    faces = [{"path": "v.mp4", "frame_idx": 3 * k, "track": 0, "x1": 10.0, "y1": 10.0, "x2": 40.0, "y2": 50.0,
              "face_score": 0.99, "score": 0.9} for k in range(4)]  # fmt: skip
    row = {"path": "v.mp4", "kind": "video", "score": 0.9, "decision": "fake", "threshold": 0.5,
           "aggregation": "mean", "frames_sampled": 4, "faces_found": 4, "status": "ok"}  # fmt: skip
    media = Media(frames, [0, 3, 6, 9], 1.0, crops)
    out = explain_prediction(explainer, Prediction(row, faces, 0, media), tmp_path / "v.png")
    assert out == tmp_path / "v.png"
    with Image.open(out) as picture:
        assert picture.width >= 700 and picture.height > 300
    failed = {**row, "status": "no_face"}
    assert explain_prediction(explainer, Prediction(failed, [], 0, media), tmp_path / "w.png") is None
    assert not (tmp_path / "w.png").exists()


def test_attention_tensors_are_not_maps_and_the_hybrid_is_explained_through_its_cnn() -> None:
    import timm

    from dfd.models.nets.hybrid_vit_cnn import HybridViTCNN

    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=1)
    assert cam_layer(vit, 224) is vit.patch_embed.proj  # not an attention block's [N, heads, tokens, dim]
    hybrid = HybridViTCNN(vit_name="vit_tiny_patch16_224")
    assert cam_layer(hybrid, 224) is hybrid.backbone["cnn"].layer4


def _video_prediction() -> Prediction:
    frames = [np.full((60, 80, 3), 30 * k, dtype=np.uint8) for k in range(3)]
    crops = [np.random.default_rng(k).integers(0, 255, (40, 40, 3), dtype=np.uint8) for k in range(3)]
    faces = [{"path": "v.mp4", "frame_idx": k, "track": 0, "x1": 10.0, "y1": 10.0, "x2": 40.0, "y2": 50.0,
              "face_score": 0.99, "score": 0.7} for k in range(3)]  # fmt: skip
    row = {"path": "v.mp4", "kind": "video", "score": 0.7, "decision": "fake", "threshold": 0.5,
           "aggregation": "mean", "frames_sampled": 3, "faces_found": 3, "status": "ok"}  # fmt: skip
    return Prediction(row, faces, 0, Media(frames, [0, 1, 2], 1.0, crops))


def test_a_localising_net_shows_its_predicted_mask_beside_the_grad_cam(tmp_path: Path, monkeypatch) -> None:
    from PIL import Image

    import dfd.inference.explain as explain

    torch.manual_seed(0)
    plain = Meso4(input_size=64).eval()
    net = Meso4(input_size=64, localization=True).eval()
    drawn = []
    save = explain.save_explanation
    monkeypatch.setattr(explain, "save_explanation", lambda *a: drawn.append(a[3]) or save(*a))
    prediction = _video_prediction()
    heights = []
    for model, name in ((plain, "plain.png"), (net, "mask.png")):
        explainer = Explainer(model, TorchDetector(model, ModelInfo(model.input_spec)))
        out = explain_prediction(explainer, prediction, tmp_path / name)
        with Image.open(out) as picture:
            heights.append(picture.height)
    assert all(panel.mask is None for panel in drawn[0])
    explainer = Explainer(net, TorchDetector(net, ModelInfo(net.input_spec)))
    expected = explainer.masks(prediction.media.crops)
    with torch.no_grad():
        x = torch.from_numpy(explainer.detector.prepare(prediction.media.crops))
        by_net = torch.sigmoid(net.forward_with_mask(x)[1])[:, 0].numpy()
    assert expected.shape == (3, 64, 64) and np.allclose(expected, by_net, atol=1e-6)
    assert [panel.mask.shape for panel in drawn[1]] == [(64, 64)] * 3
    assert np.allclose(np.stack([p.mask for p in drawn[1]]), expected, atol=1e-6)
    assert heights[1] > heights[0]  # the third row: the predicted masks
