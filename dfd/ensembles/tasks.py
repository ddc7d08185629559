"""``dfd.ensemble``: fit a fusion of trained detectors on validation, report it on test, save it.

The steps: load every member (a checkpoint or an exported folder) as a torch detector; prepare
the data (``data=<name>``, or the first checkpoint member's own) and refuse members whose
training crops were made otherwise; score validation and the evaluated split once per member
(:mod:`dfd.ensembles.members`, cached); fit the rule on validation
(:mod:`dfd.ensembles.fusion`); calibrate the fused validation logits as for a single model;
fuse the evaluated split and write the report (the single-model report, plus every member
against the ensemble, agreement) and ``ensemble.json``, which ``dfd.export``, ``dfd.predict``
and ``dfd.serve`` read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from dfd.artifacts.runs import ENSEMBLE_RUN_FILE as RUN_FILE
from dfd.artifacts.runs import check_run_data, data_root, load_detector, run_config_for, run_dir_of
from dfd.config.instantiate import instantiate
from dfd.core.digest import file_sha256
from dfd.ensembles.fusion import agreement, make_fusion, sigmoid
from dfd.ensembles.members import Member, score_members
from dfd.inference.detector import TorchDetector, resolve_device
from dfd.metrics.calibration import calibrate, resolve_threshold
from dfd.metrics.detection import ConfidentStrategy, aggregate_video, log_loss
from dfd.preprocessing.fingerprint import describe, differences
from dfd.reports.ensemble import (
    ENSEMBLE,
    by_method_markdown,
    member_rows,
    members_by_method,
    members_markdown,
    members_roc_figure,
)
from dfd.reports.plots import save
from dfd.reports.report import flatten_summary, write_report

log = logging.getLogger(__name__)

RUN_FORMAT = "dfd-ensemble-run"


def member_name(path: Path) -> str:
    """``<run folder>`` for ``<run>/checkpoints/best.ckpt``, the folder name of an exported model."""
    return path.name if path.is_dir() else run_dir_of(path).name


def load_members(
    paths: list[str], names: list[str] | None, device: str, batch_size: int, allow_pickle: bool
) -> list[Member]:
    """Every member as a torch detector, with a unique name and the sha256 of what it was read from."""
    if len(paths) < 2:
        raise ValueError(
            f"members={paths}: an ensemble needs at least two members (checkpoints or exported folders)"
        )
    if names and len(names) != len(paths):
        raise ValueError(f"names has {len(names)} entries for {len(paths)} members")
    members, seen = [], {}
    for k, raw in enumerate(paths):
        path = Path(str(raw)).expanduser().resolve()
        detector = load_detector(path, "torch", batch_size, device, allow_pickle)
        if not isinstance(detector, TorchDetector):
            raise ValueError(f"member {raw} is itself an ensemble: give its members instead")
        if getattr(detector.info, "clip_len", None):
            raise ValueError(
                f"member {raw} scores clips of {detector.info.clip_len} frames: an ensemble fuses frame models, "
                "which score the same face crops; compare a clip model with dfd.compare instead"
            )
        name = names[k] if names else member_name(path)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}_{seen[name]}"
        digest = file_sha256(path / "dfd_model.json" if path.is_dir() else path)
        members.append(Member(name, path, detector, digest))
    return members


def member_data_config(members: list[Member], data: DictConfig | None) -> DictConfig:
    """``data`` when given, else the data the first checkpoint member was trained on."""
    if data is not None:
        return OmegaConf.create(OmegaConf.to_container(data, resolve=True))  # type: ignore[return-value]
    for m in members:
        if m.path.is_file():
            data = run_config_for(m.path).data
            check_run_data(data, run_dir_of(m.path) / "config.yaml")  # a run folder names only dfd's data
            return OmegaConf.create(OmegaConf.to_container(data, resolve=True))  # type: ignore[return-value]
    raise ValueError(
        "every member is an exported folder, which does not carry its data config: give data=<name>"
    )


def check_fingerprints(members: list[Member], given: dict[str, Any], refuse: bool) -> None:
    """Refuse (or warn about) members whose training crops were made unlike these crops."""
    bad = {m.name: differences(m.detector.info.preprocessing, given) for m in members}
    bad = {k: v for k, v in bad.items() if v}
    if not bad:
        return
    text = "; ".join(f"{name}: {describe(diff)}" for name, diff in bad.items())
    if refuse:
        raise ValueError(
            f"members were trained on crops made unlike these ({text}): an ensemble's members score the same crops, "
            "which must come from one preprocessing. Re-preprocess, or accept lower scores with check_fingerprints=false"
        )
    log.warning("members were trained on crops made unlike these (%s): expect lower scores", text)


def stack(
    outputs: dict[str, dict[str, np.ndarray]], members: list[Member]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Member logits ``float[N, M]`` and embeddings (one array per member), in member order."""
    z = np.stack([outputs[m.name]["logits"] for m in members], axis=1).astype(np.float64)
    return z, [outputs[m.name]["features"] for m in members]


def fusion_params(cfg: DictConfig, members: list[Member]) -> dict[str, Any]:
    """The rule's config; a weighted study is named after its members, so re-running continues it."""
    params = OmegaConf.to_container(cfg.ensemble, resolve=True)
    assert isinstance(params, dict)
    if params.get("rule") == "weighted" and params.get("storage") and not params.get("study_name"):
        digest = hashlib.sha256("".join(m.sha256 for m in members).encode()).hexdigest()[:12]
        params["study_name"] = f"ensemble_weighted_{digest}"
    if params.get("storage", "").startswith("sqlite:///"):
        Path(params["storage"][len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    return params


def level_probs(
    probs: dict[str, np.ndarray],
    labels: np.ndarray,
    video_idx: np.ndarray,
    aggregation: str,
    confident: ConfidentStrategy,
) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray]]:
    """``{"frame": (probs, labels), "video": (probs aggregated per video, video labels)}``."""
    y = torch.as_tensor(labels).long()
    vi = torch.as_tensor(video_idx).long()
    video, video_labels = {}, None
    for name, p in probs.items():
        vp, vl, _ = aggregate_video(torch.as_tensor(p).float(), y, vi, aggregation, confident)  # type: ignore[arg-type]
        video[name], video_labels = vp.numpy(), vl.numpy()
    return {"frame": (probs, labels.astype(int)), "video": (video, np.asarray(video_labels).astype(int))}


def best_member_by_val(levels_val: dict[str, tuple[dict[str, np.ndarray], np.ndarray]]) -> dict[str, str]:
    """Per level, the member with the highest validation AUC (the reference the ensemble must beat)."""
    from sklearn.metrics import roc_auc_score

    out = {}
    for level, (probs, labels) in levels_val.items():
        aucs = {n: roc_auc_score(labels, p) for n, p in probs.items() if n != ENSEMBLE}
        out[level] = max(aucs, key=aucs.__getitem__)
    return out


def run_ensemble(cfg: DictConfig) -> dict[str, float]:
    """Fit, calibrate, evaluate and save the ensemble of ``cfg.members`` (see the module docstring)."""
    L.seed_everything(cfg.seed, workers=True)
    device = resolve_device(cfg.device)
    members = load_members(list(cfg.members), cfg.get("names"), device, cfg.batch_size, cfg.allow_pickle)
    data_cfg = member_data_config(members, cfg.get("data"))
    datamodule = instantiate(data_cfg)
    datamodule.verify()
    datamodule.set_input_spec(members[0].detector.info.input_spec)
    datamodule.setup("test")
    data_fingerprint = datamodule.fingerprint()
    check_fingerprints(members, data_fingerprint, refuse=cfg.check_fingerprints)
    data_name = data_root(data_cfg).name
    if cfg.split not in ("val", "test"):
        raise ValueError(f"split={cfg.split!r}: expected val or test")
    if cfg.split == "val":
        log.warning(
            "split=val: the rule and the calibration were fitted on this split, so its figures are optimistic"
        )
    val, evald = datamodule.datasets["val"], datamodule.datasets[cfg.split]
    for split, ds in (("val", val), (cfg.split, evald)):
        if len(ds) == 0 or len(set(ds.labels.astype(int))) < 2:
            raise ValueError(
                f"the {split} split of {data_name} needs real and fake crops to fit and evaluate an ensemble"
            )
    cache = cfg.cache_dir or None
    # the fingerprint (with the manifest's sha256) keys the cache: crops regenerated in place miss it
    out_val = score_members(members, val, cache, cfg.batch_size, cfg.num_workers, "val", data_fingerprint)
    out_eval = (
        out_val
        if cfg.split == "val"
        else score_members(
            members, evald, cache, cfg.batch_size, cfg.num_workers, cfg.split, data_fingerprint
        )
    )

    fusion = make_fusion(**fusion_params(cfg, members))
    z_val, f_val = stack(out_val, members)
    y_val = val.labels.astype(int)
    fused_val = fusion.fit(z_val, y_val, val.video_ids, f_val if fusion.needs_features else None)
    cal_cfg = cfg.calibration
    confident = (
        ConfidentStrategy(**OmegaConf.to_container(cal_cfg.confident))
        if cal_cfg.get("confident")
        else ConfidentStrategy()
    )
    calibration = calibrate(
        torch.as_tensor(fused_val).float(), torch.as_tensor(y_val), torch.as_tensor(val.video_idx),
        precision_target=cal_cfg.precision_target, video_aggregation=cal_cfg.video_aggregation, confident=confident,
    )  # fmt: skip
    z_eval, f_eval = stack(out_eval, members)
    fused_eval = fusion.fuse(z_eval, f_eval if fusion.needs_features else None)
    member_probs = sigmoid(z_eval)
    member_thresholds = [
        resolve_threshold(cfg.threshold, m.detector.info.calibration, "frame")
        if m.detector.info.calibration
        else 0.5
        for m in members
    ]
    threshold = resolve_threshold(cfg.threshold, calibration, "frame")
    agree = agreement(member_probs, member_thresholds, sigmoid(fused_eval), threshold)
    low = agree < cfg.agreement_threshold
    weights = fusion.weights(z_eval, f_eval if fusion.needs_features else None).mean(axis=0)

    out = Path(cfg.out_dir)
    outputs = {
        "logits": torch.as_tensor(fused_eval).float(),
        "labels": torch.as_tensor(evald.labels),
        "video_idx": torch.as_tensor(evald.video_idx),
        "index": torch.arange(len(evald)),
    }
    extra = {"agreement": agree, "low_agreement": low.astype(int)}
    extra.update({f"prob_{m.name}": member_probs[:, k] for k, m in enumerate(members)})
    summary = write_report(
        outputs, out, calibration, threshold=cfg.threshold, video_aggregation=cfg.get("video_aggregation"),
        title=f"ensemble ({fusion.name}) of {', '.join(m.name for m in members)}: {data_name} {cfg.split}",
        meta={"members": [str(m.path) for m in members], "data": data_name, "split": cfg.split, "rule": fusion.name},
        samples=evald.sample_table(), extra_columns=extra,
    )  # fmt: skip

    agg = cfg.get("video_aggregation") or calibration.video_aggregation
    named = {m.name: member_probs[:, k] for k, m in enumerate(members)}
    levels = level_probs(
        {**named, ENSEMBLE: sigmoid(fused_eval)}, evald.labels, evald.video_idx, agg, confident
    )
    levels_val = level_probs(
        {m.name: sigmoid(z_val[:, k]) for k, m in enumerate(members)},
        val.labels,
        val.video_idx,
        agg,
        confident,
    )
    best = best_member_by_val(levels_val)
    weight_of = {m.name: float(w) for m, w in zip(members, weights, strict=True)}
    table = {
        level: member_rows(probs, labels, best[level], weight_of, n_boot=cfg.n_boot, seed=cfg.seed)
        for level, (probs, labels) in levels.items()
        if len(set(labels)) == 2
    }
    samples = evald.sample_table()
    by_method = (
        members_by_method(levels["frame"][0], evald.labels, samples["method"].fillna("").to_numpy())
        if "method" in samples
        else {}
    )
    save(members_roc_figure(levels), out / "members_roc.png")
    report_md = out / "report.md"
    report_md.write_text(
        report_md.read_text() + "\n" + members_markdown(table, cfg.n_boot) + "\n" + by_method_markdown(by_method)
        + "\n![members](members_roc.png)\n"
    )  # fmt: skip
    val_log_loss = {m.name: log_loss(sigmoid(z_val[:, k]), y_val) for k, m in enumerate(members)}
    val_log_loss[ENSEMBLE] = log_loss(sigmoid(fused_val), y_val)
    summary_extra = {
        "members": table,
        "members_by_method": by_method,
        "rule": fusion.state(),
        "weights": weight_of,
        "val_log_loss": val_log_loss,
        "agreement": {
            "threshold": cfg.agreement_threshold,
            "n_low": int(low.sum()),
            "share_low": float(low.mean()),
            "acc_low": _accuracy(sigmoid(fused_eval[low]), evald.labels[low], threshold),
            "acc_high": _accuracy(sigmoid(fused_eval[~low]), evald.labels[~low], threshold),
        },
    }
    summary_path = out / "summary.json"
    summary_json = json.loads(summary_path.read_text())
    summary_json.update(_json_safe(summary_extra))
    summary_path.write_text(json.dumps(summary_json, indent=2))

    metrics = flatten_summary(summary)
    for level, rows in table.items():
        for row in rows:
            metrics[f"{level}/auc/{row['detector']}"] = row["auc"]
    metrics.update({f"val/log_loss/{k}": v for k, v in val_log_loss.items()})
    record = {
        "format": RUN_FORMAT,
        "members": [{"name": m.name, "path": str(m.path), "sha256": m.sha256} for m in members],
        "fusion": fusion.state(),
        "calibration": calibration.to_dict(),
        "preprocessing": members[0].detector.info.preprocessing,
        "data": data_name,
        "split": cfg.split,
        "threshold": str(cfg.threshold),
        "agreement_threshold": cfg.agreement_threshold,
        "weights": weight_of,
        "val_log_loss": val_log_loss,
        "metrics": metrics,
    }
    (out / RUN_FILE).write_text(json.dumps(_json_safe(record), indent=2))
    print(closing_lines(out, fusion.name, table, val_log_loss, low), flush=True)
    return metrics


def _accuracy(probs: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    return float(((probs > threshold).astype(int) == labels.astype(int)).mean()) if len(labels) else math.nan


def _json_safe(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, float | np.floating):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer | np.bool_):
        return x.item()
    return x


def closing_lines(
    out: Path,
    rule: str,
    table: dict[str, list[dict[str, Any]]],
    val_log_loss: dict[str, float],
    low: np.ndarray,
) -> str:
    lines = [f"ensemble ({rule}) written to {out}"]
    for level, rows in table.items():
        cells = ", ".join(f"{r['detector']} {r['auc']:.4f}" for r in rows)
        ens = next(r for r in rows if r["detector"] == ENSEMBLE)
        lines.append(f"{level} AUC: {cells} (DeLong p vs best member {ens['delong_p_vs_best']:.3g})")
    lines.append("val log-loss: " + ", ".join(f"{k} {v:.4f}" for k, v in val_log_loss.items()))
    lines.append(f"low agreement: {int(low.sum())} of {len(low)} samples")
    return "\n".join(lines)
