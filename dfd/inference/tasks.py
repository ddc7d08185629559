"""The tasks of the inference stage's commands: each is what ``dfd <verb>`` runs once its config is composed."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from dfd.artifacts.runs import load_detector
from dfd.inference.detector import TorchDetector, resolve_device
from dfd.inference.explain import Explainer, explain_prediction
from dfd.inference.inputs import expand_inputs
from dfd.inference.outputs import RowWriter
from dfd.inference.predictor import make_predictor
from dfd.inference.server import serve as run_server
from dfd.preprocessing.fingerprint import describe

log = logging.getLogger(__name__)


def predict(cfg: DictConfig) -> dict[str, Any]:
    """Score every input of ``cfg.input``; write the rows; return counts per decision and status."""
    device = resolve_device(cfg.device)
    digest = cfg.get("digest")
    detector = load_detector(cfg.ckpt_path, cfg.backend, cfg.batch_size, device, cfg.allow_pickle, digest)
    visualize = bool(cfg.visualize)
    if visualize and detector.clip_len:
        log.warning("visualize=true skipped: %s scores clips, and Grad-CAM pictures explain single crops",
                    detector.info.name)  # fmt: skip
        visualize = False
    predictor, diff = make_predictor(
        detector, OmegaConf.to_container(cfg.cropper), cfg.num_frames, cfg.stride, device,
        threshold=cfg.threshold, aggregation=cfg.aggregation, track_rule=cfg.track_rule,
        min_track_share=cfg.min_track_share, min_frames=cfg.min_frames, max_pixels=cfg.max_pixels,
        clip_stride=cfg.get("clip_stride"), keep_media=visualize,
    )  # fmt: skip
    explainer = None
    if visualize:  # Grad-CAM needs gradients: ONNX models are explained through their safetensors
        torch_detector = (
            detector
            if isinstance(detector, TorchDetector)
            else load_detector(cfg.ckpt_path, "torch", device=device, digest=digest)
        )
        if not isinstance(torch_detector, TorchDetector):
            raise ValueError(
                f"visualize=true draws one net's Grad-CAM, and {cfg.ckpt_path} is an ensemble: predict without "
                "visualize, or visualize with one member (an exported ensemble keeps them under members/)"
            )
        explainer = Explainer(torch_detector.net, detector)
    if diff:
        log.warning("cropping unlike the model's training crops (%s): expect lower accuracy", describe(diff))
    paths = expand_inputs(cfg.input)
    if not paths:
        raise FileNotFoundError(f"input={cfg.input} names no image or video")
    out = Path(cfg.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames_out = out.with_name(f"{out.stem}_frames.csv") if cfg.per_frame else None
    counts: dict[str, int] = {}
    with ExitStack() as stack:
        rows = stack.enter_context(RowWriter(out, predictor.columns))
        frame_rows = (
            stack.enter_context(RowWriter(frames_out, predictor.frame_columns)) if frames_out else None
        )
        for number, path in enumerate(tqdm(paths, desc="predict", unit="input", dynamic_ncols=True)):
            prediction = predictor.predict(path)
            if explainer is not None:
                explain_prediction(
                    explainer, prediction, Path(cfg.visualize_dir) / f"{number:04d}_{path.stem}.png"
                )
            rows.write([prediction.row])
            if frame_rows is not None:
                frame_rows.write(prediction.frames)
            key = prediction.row["decision"] or prediction.row["status"]
            counts[key] = counts.get(key, 0) + 1
    print(
        f"{len(paths)} inputs scored with {detector.info.name}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    print(
        f"predictions: {out}" + (f"\nper {detector.info.unit:<7}: {frames_out}" if frames_out else ""),
        flush=True,
    )
    if explainer is not None:
        print(f"pictures   : {cfg.visualize_dir}", flush=True)
    return counts


def serve(cfg: DictConfig) -> None:
    """Run the server for the exported model or ensemble ``cfg.ckpt_path`` until it is stopped."""
    options = {"threshold": cfg.threshold, "aggregation": cfg.aggregation, "track_rule": cfg.track_rule,
               "num_frames": cfg.num_frames, "device": cfg.device, "max_pixels": cfg.max_pixels,
               "cropper": OmegaConf.to_container(cfg.cropper)}  # fmt: skip
    print(
        f"serving {cfg.ckpt_path} on http://{cfg.host}:{cfg.port}/predict (POST a file), /health", flush=True
    )
    run_server(
        str(cfg.ckpt_path), cfg.host, cfg.port, cfg.backend, options,
        cfg.max_batch_size, cfg.batch_timeout, cfg.max_upload_mb, cfg.timeout,
        partial(load_detector, digest=cfg.get("digest")),  # every worker checks the pinned digest
        expose_info=cfg.expose_info, timeout_keep_alive=cfg.timeout_keep_alive, timeout_idle=cfg.timeout_idle,
        workers=cfg.workers, threads=cfg.threads,
    )  # fmt: skip
