"""Pretrained weights: fail fast and clearly offline, load from the local cache, load local files."""

import socket

import pytest
import timm
import torch

from dfd.models.nets import pretrained as weights
from dfd.models.nets.f3net import F3Net
from dfd.models.nets.mesonet import Meso4
from dfd.models.nets.pretrained import PretrainedWeightsUnavailable, create_timm_model, load_weights


@pytest.fixture
def no_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(weights, "_cached_weight_file", lambda name: None)


def _forbid_downloads(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("timm.create_model(pretrained=True) must not be reached")

    monkeypatch.setattr(
        timm, "create_model", lambda *a, pretrained=False, **k: fail() if pretrained else None
    )


def test_offline_env_fails_before_any_network_access(no_hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("network touched"))
    _forbid_downloads(monkeypatch)
    with pytest.raises(PretrainedWeightsUnavailable) as err:
        create_timm_model("resnet18", pretrained=True)
    assert "model.net.pretrained=false" in str(err.value)
    assert "model.weights_path=" in str(err.value)
    assert "HF_HUB_OFFLINE" in str(err.value)


def test_unreachable_host_fails_after_one_short_probe(no_hub_cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    probes = []

    def refuse(address, timeout=None):
        probes.append((address, timeout))
        raise OSError("unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    _forbid_downloads(monkeypatch)
    with pytest.raises(
        PretrainedWeightsUnavailable, match=r"huggingface.co:443 is unreachable.*pretrained=false"
    ):
        create_timm_model("resnet18", pretrained=True)
    with pytest.raises(PretrainedWeightsUnavailable, match="github.com:443"):  # URL-hosted weights
        create_timm_model("legacy_xception", pretrained=True)
    assert [p[0] for p in probes] == [("huggingface.co", 443), ("github.com", 443)]
    assert all(0 < p[1] <= 5 for p in probes)


def test_cached_weights_load_offline_and_feed_both_f3net_streams(tmp_path, monkeypatch):
    # legacy_xception's weights are URL-hosted; timm caches them under $TORCH_HOME/hub/checkpoints.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("network touched"))
    reference = timm.create_model("legacy_xception", pretrained=False)
    cached = tmp_path / "hub" / "checkpoints" / "xception-43020ad28.pth"
    cached.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), cached)

    net = F3Net(pretrained=True, input_size=48)
    fad, lfs = net.backbone["fad"], net.backbone["lfs"]
    torch.testing.assert_close(fad.block5.rep[1].pointwise.weight, reference.block5.rep[1].pointwise.weight)
    torch.testing.assert_close(lfs.conv4.pointwise.weight, reference.conv4.pointwise.weight)
    # timm spreads the RGB stem over the extra channels: repeated and scaled by 3 / in_chans.
    torch.testing.assert_close(fad.conv1.weight[:, 3:6], reference.conv1.weight * 3 / 9)
    torch.testing.assert_close(lfs.conv1.weight[:, :3], reference.conv1.weight * 3 / 6)


def test_load_weights_from_lightning_checkpoint_strips_prefixes(tmp_path):
    source = Meso4()
    ckpt = {"epoch": 3, "state_dict": {f"net.{k}": v for k, v in source.state_dict().items()}}
    torch.save(ckpt, tmp_path / "last.ckpt")
    target = Meso4()
    report = load_weights(target, tmp_path / "last.ckpt")
    assert report == {"missing": [], "unexpected": [], "mismatched": []}
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)


def test_load_weights_reports_missing_unexpected_and_mismatched(tmp_path):
    state = {f"module.{k}": v for k, v in Meso4().state_dict().items() if not k.startswith("head.5")}
    state["module.extra.weight"] = torch.zeros(3)
    state["module.head.2.weight"] = torch.zeros(16, 10)  # wrong shape
    torch.save({"model_state_dict": state}, tmp_path / "seed_style.pth")
    report = load_weights(Meso4(), tmp_path / "seed_style.pth")
    assert report["missing"] == ["head.2.weight", "head.5.weight", "head.5.bias"]
    assert report["unexpected"] == ["extra.weight"]
    assert report["mismatched"] == ["head.2.weight"]


def test_load_weights_rejects_foreign_or_missing_files(tmp_path):
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="None of the 1 tensors"):
        load_weights(Meso4(), tmp_path / "other.pth")
    with pytest.raises(FileNotFoundError, match="model.weights_path="):
        load_weights(Meso4(), tmp_path / "absent.pth")


def test_hub_cache_lookup_finds_timm_weights(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--timm--resnet18.a1_in1k"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    assert weights._cached_weight_file("resnet18") is None
    (snapshot / "model.safetensors").write_bytes(b"")
    assert weights._cached_weight_file("resnet18") == str(snapshot / "model.safetensors")


def test_hybrid_backbones_load_cached_imagenet_weights(tmp_path, monkeypatch):
    from dfd.models.nets.hybrid_vit_cnn import HybridViTCNN

    # A small ViT stands in for ViT-B/16 (same code path); its 224 px weights meet a 32 px input.
    references = {
        "resnet18": timm.create_model("resnet18", pretrained=False),
        "vit_tiny_patch16_224": timm.create_model("vit_tiny_patch16_224", pretrained=False),
    }
    files = {}
    for name, model in references.items():
        files[name] = tmp_path / f"{name}.pth"
        torch.save(model.state_dict(), files[name])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(weights, "_cached_weight_file", lambda name: str(files[name]))
    net = HybridViTCNN(pretrained=True, vit_name="vit_tiny_patch16_224", input_size=32)
    torch.testing.assert_close(
        net.backbone["cnn"].layer3[0].conv1.weight, references["resnet18"].layer3[0].conv1.weight
    )
    vit, ref = net.backbone["vit"], references["vit_tiny_patch16_224"]
    torch.testing.assert_close(vit.blocks[5].mlp.fc1.weight, ref.blocks[5].mlp.fc1.weight)
    assert vit.pos_embed.shape[1] == 1 + (32 // 16) ** 2  # timm resampled the position embeddings


def test_a_crafted_weights_file_is_refused_not_run(tmp_path):
    """model.weights_path is often a file from someone else: it is read as plain data."""
    from dfd.core.safe_load import UnsafeCheckpoint
    from tests.core.test_safe_load import crafted

    path, marker = crafted(tmp_path)
    with pytest.raises(UnsafeCheckpoint, match="model.allow_pickle=true"):
        load_weights(Meso4(), path)
    assert not marker.exists()
