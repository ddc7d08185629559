"""The evidence table of docs/temporal.md ("Evidence: a manipulation no single frame reveals").

Reads trained runs (``make temporal-mini`` trains them on a mini FF++ tree whose only fakes are
``Temporal``: clean real frames whose person flickers between two from frame to frame) and, for
each, scores every test clip three times: in its own frame order, with its frames permuted (a
seeded permutation per clip, never the identity), and frozen (its first frame repeated T times:
no change left to see). A temporal net scores the clip; a frame net scores each frame and the
clip gets the mean, so its score cannot depend on the order: measured anyway. A video's score is
the mean of its clips'. The table gives each run's own test video AUC (``metrics.json``, as
``dfd.train`` reported it), the clip-scored video AUC in order, shuffled and frozen, and the mean
|Δ score| between shuffled and ordered clips (real and fake apart).

    python benchmarks/temporal_evidence.py outputs/temporal_mini/{meso4,ftcn,tall,temporal_head} \
        --control outputs/temporal_mini/meso4_deepfakes --out outputs/temporal_mini/evidence.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf, open_dict
from torchmetrics.functional.classification import binary_auroc

from dfd.artifacts.runs import load_model, run_config_for
from dfd.config.instantiate import instantiate
from dfd.metrics.detection import aggregate_video
from dfd.models.detector_module import DetectorModule


def permutations(batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """``batch`` random orders of ``length`` frames [batch, length], none of them the identity."""
    orders = torch.stack([torch.randperm(length, generator=generator) for _ in range(batch)])
    same = (orders == torch.arange(length)).all(dim=1)
    orders[same] = torch.roll(orders[same], 1, dims=1)  # a cyclic shift: no frame stays
    return orders


@torch.no_grad()
def clip_scores(net: torch.nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """Fake probabilities of clips [B, T, 3, S, S]: a temporal net's (``clip_len``) of each clip, a
    frame net's mean over the clip's frames."""
    if getattr(net, "clip_len", None) is not None:
        return DetectorModule.probs(net(clips))
    b, t = clips.shape[:2]
    return DetectorModule.probs(net(clips.flatten(0, 1))).view(b, t).mean(dim=1)


def shuffle_test(net: torch.nn.Module, loader: Any, seed: int = 0) -> dict[str, torch.Tensor]:
    """Every clip of ``loader`` scored in order (``natural``), with its frames permuted
    (``shuffled``) and as its first frame repeated (``frozen``), with its ``label`` and ``video_idx``."""
    net.eval()
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, list[torch.Tensor]] = {
        "natural": [],
        "shuffled": [],
        "frozen": [],
        "label": [],
        "video_idx": [],
    }
    for batch in loader:
        clips = batch["image"]
        order = permutations(clips.shape[0], clips.shape[1], generator)
        shuffled = clips[torch.arange(clips.shape[0])[:, None], order]
        out["natural"].append(clip_scores(net, clips))
        out["shuffled"].append(clip_scores(net, shuffled))
        out["frozen"].append(clip_scores(net, clips[:, :1].expand_as(clips)))
        out["label"].append(batch["label"].long())
        out["video_idx"].append(batch["video_idx"].long())
    return {k: torch.cat(v) for k, v in out.items()}


def summarize(scores: dict[str, torch.Tensor]) -> dict[str, float]:
    """Video AUC (mean of a video's clip scores) in order, shuffled and frozen; mean |Δ score| per
    clip between shuffled and ordered, over all clips, the real ones and the fake ones."""
    row: dict[str, float] = {}
    for key in ("natural", "shuffled", "frozen"):
        probs, labels, _ = aggregate_video(scores[key], scores["label"], scores["video_idx"])
        row[f"video_auc_{key}"] = float(binary_auroc(probs.float(), labels))
    delta = (scores["shuffled"] - scores["natural"]).abs()
    real = scores["label"] == 0
    row["delta"] = float(delta.mean())
    row["delta_real"] = float(delta[real].mean())
    row["delta_fake"] = float(delta[~real].mean())
    row["clips"] = int(len(delta))
    return row


def load_run_clips(run_dir: Path, clip_len: int, batch_size: int = 32) -> tuple[torch.nn.Module, Any]:
    """The run's best net and the test clips of the run's own data (``clip_len`` consecutive crops)."""
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    run_cfg = run_config_for(ckpt)
    model = load_model(ckpt, run_cfg)
    data_cfg = OmegaConf.create(OmegaConf.to_container(run_cfg.data, resolve=True))
    with open_dict(data_cfg):
        data_cfg.update(
            clips=True, clip_len=clip_len, frames_per_video=None, num_workers=0, batch_size=batch_size
        )
        data_cfg.augment = None
    datamodule = instantiate(data_cfg)
    datamodule.verify()
    datamodule.set_input_spec(model.net.input_spec)
    datamodule.setup("test")
    return model.net, datamodule.test_dataloader()


def evidence_row(run_dir: Path, clip_len: int, seed: int = 0) -> dict[str, Any]:
    """One table row: the run's net, its own test video AUC and the shuffle test's numbers."""
    net, loader = load_run_clips(run_dir, clip_len)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    row: dict[str, Any] = {
        "run": run_dir.name,
        "net": type(net).__name__,
        "unit": "clip" if getattr(net, "clip_len", None) else "frame",
        "params": metrics["params"]["total"],
        "test_video_auc": metrics["metrics"]["test/video_auc"],
        "test_auc": metrics["metrics"]["test/auc"],
    }
    row.update(summarize(shuffle_test(net, loader, seed)))
    return row


def table(rows: list[dict[str, Any]], control: dict[str, Any] | None) -> str:
    """The markdown table of ``rows`` (and the control's line)."""
    lines = [
        "| run | net (params) | trained on | test AUC (its unit) | test video AUC | video AUC, clips in order | "
        "video AUC, clips shuffled | video AUC, clips frozen | mean \\|Δ score\\| shuffled: all / real / fake clips |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows + ([control] if control else []):
        lines.append(
            f"| {row['run']} | {row['net']} ({row['params']:,}) | {row.get('data', 'Temporal')} | "
            f"{row['test_auc']:.3f} ({row['unit']}) | {row['test_video_auc']:.3f} | {row['video_auc_natural']:.3f} | "
            f"{row['video_auc_shuffled']:.3f} | {row['video_auc_frozen']:.3f} | {row['delta']:.2g} / {row['delta_real']:.2g} / {row['delta_fake']:.2g} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories of dfd.train")
    parser.add_argument("--control", type=Path, help="a frame model's run on per-frame fakes")
    parser.add_argument("--clip-len", type=int, default=None, help="default: the runs' data.clip_len")
    parser.add_argument("--seed", type=int, default=0, help="of the permutations")
    parser.add_argument("--out", type=Path, help="write the table (markdown) and rows (JSON) here")
    args = parser.parse_args()
    clip_len = args.clip_len or int(run_config_for(args.runs[0] / "checkpoints" / "best.ckpt").data.clip_len)
    rows = [evidence_row(run, clip_len, args.seed) for run in args.runs]
    control = None
    if args.control:
        control = evidence_row(args.control, clip_len, args.seed)
        control["data"] = "Deepfakes (control)"
    text = table(rows, control)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps({"rows": rows, "control": control}, indent=2))


if __name__ == "__main__":
    main()
