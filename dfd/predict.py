"""Score images and videos: ``python -m dfd.predict ckpt_path=<.ckpt or exported model> input=<path> [output=...]``.

Crops every face exactly as the model's training crops were made (its preprocessing
fingerprint) with the same ``FaceCropper`` code as ``dfd.preprocess``, scores the crops, and
decides each input with the threshold and video aggregation calibrated on validation. One row
per input goes to ``output`` as soon as it is scored (a crash loses nothing before it); an
ensemble's rows add ``agreement`` and ``low_agreement``;
``per_frame=true`` adds one row per face crop (rows are written as :mod:`dfd.inference.outputs`
says: every input named, none run by a spreadsheet); ``visualize=true`` saves a PNG per input: the
sampled frames with face boxes and scores, and the deciding face's crops under their Grad-CAM
heatmap (:mod:`dfd.inference.explain`). The steps are :mod:`dfd.inference.predictor`.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from dfd.inference.detector import TorchDetector, resolve_device
from dfd.inference.explain import Explainer, explain_prediction
from dfd.inference.inputs import expand_inputs
from dfd.inference.outputs import RowWriter
from dfd.inference.predictor import make_predictor
from dfd.preprocessing.fingerprint import describe
from dfd.utils.entry import entry
from dfd.utils.runs import load_detector

log = logging.getLogger(__name__)


def predict(cfg: DictConfig) -> dict[str, Any]:
    """Score every input of ``cfg.input``; write the rows; return counts per decision and status."""
    device = resolve_device(cfg.device)
    digest = cfg.get("digest")
    detector = load_detector(cfg.ckpt_path, cfg.backend, cfg.batch_size, device, cfg.allow_pickle, digest)
    predictor, diff = make_predictor(
        detector, OmegaConf.to_container(cfg.cropper), cfg.num_frames, cfg.stride, device,
        threshold=cfg.threshold, aggregation=cfg.aggregation, track_rule=cfg.track_rule,
        min_track_share=cfg.min_track_share, min_frames=cfg.min_frames, max_pixels=cfg.max_pixels,
        keep_media=cfg.visualize,
    )  # fmt: skip
    explainer = None
    if cfg.visualize:  # Grad-CAM needs gradients: ONNX models are explained through their safetensors
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
    print(f"predictions: {out}" + (f"\nper frame  : {frames_out}" if frames_out else ""), flush=True)
    if explainer is not None:
        print(f"pictures   : {cfg.visualize_dir}", flush=True)
    return counts


main = entry("predict", predict)

if __name__ == "__main__":
    main()
