"""``MODEL_CARD.md`` of an exported detector: intended use, training data, metrics, calibration, limits.

Written from the same description as ``dfd_model.json`` (:mod:`dfd.inference.export`), in the
spirit of model cards (Mitchell et al., "Model Cards for Model Reporting", FAT* 2019).
"""

from __future__ import annotations

import math
from typing import Any


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def published_section(pub: dict[str, Any] | None) -> list[str]:
    """The card's account of a checkpoint someone else trained and released (``dfd.import_weights``):
    where it comes from, its licence, the input contract, and the numbers its authors report, set
    apart as theirs."""
    if not pub:
        return []
    contract = pub.get("contract", {})
    lines = [
        "## Published checkpoint",
        "",
        f"Imported by `dfd.import_weights source={pub.get('source')}`: trained and released by others, "
        "converted by dfd (weights unchanged, mapped key by key).",
        "",
        f"- release: `{pub.get('file')}` (sha256 `{pub.get('file_sha256')}`)"
        + (f", catalogue entry `{pub['entry']}`" if pub.get("entry") else ""),
        f"- paper: {pub.get('paper')}",
        f"- code: {pub.get('code')}",
        f"- trained on: {pub.get('trained_on') or 'see the paper'}",
        f"- score: {pub.get('score')} of the source's net (dfd's `sigmoid(logits[:, 1] - logits[:, 0])` is the same number)",
        "",
        "### Licence",
        "",
        f"**{pub.get('licence')}**"
        + (
            " (non-commercial use only)"
            if pub.get("non_commercial") and "commercial" not in str(pub.get("licence"))
            else ""
        ),
        "",
        str(pub.get("terms", "")),
        "",
        "### Input contract",
        "",
        f"- {contract.get('size')} px RGB; {contract.get('scaling')}",
        f"- the source's faces: {contract.get('detector')}; {contract.get('crop')}",
        f"- frames per video: {contract.get('frames_per_video')}; video score: {contract.get('video_score')}",
        "- dfd.predict crops with MTCNN set as close as it gets: "
        + ", ".join(f"{k} {v}" for k, v in contract.get("cropper", {}).items()),
    ]
    lines += [f"- differs from the source: {d}" for d in contract.get("differences", [])]
    lines += ["", "### Reported by the source (not measured by dfd)", ""]
    reported = pub.get("reported") or []
    if not reported:
        lines.append("The source reports no numbers for this file.")
    for r in reported:
        lines += [
            f"{r.get('level', 'video')}-level {r.get('metric', 'AUC')} of `{r.get('checkpoint')}` "
            f"(trained on {r.get('trained_on')}), as {r.get('where')} states:",
            "",
            "| test set | reported |",
            "|---|---:|",
        ]
        lines += [f"| {k} | {_fmt(float(v))} |" for k, v in (r.get("values") or {}).items()]
        lines.append("")
    lines += [
        "These are the authors' figures on their own crops; dfd has not reproduced them. Evaluate the folder "
        "on your data with `dfd.eval ckpt_path=<this folder> data=<dataset>`.",
        "",
    ]
    return lines


def model_card(d: dict[str, Any], digest: str | None = None) -> str:
    """The markdown card of a model description; ``digest`` is the folder's (every file but this
    card, :func:`dfd.inference.export.folder_digest`)."""
    training = d.get("training", {})
    members = d.get("members")
    clip_len = (d.get("input_spec") or {}).get("clip_len")
    unit = "clip" if clip_len else "frame"
    media = "videos" if clip_len else "images and videos"  # a clip model reads no photo
    if members:  # an ensemble (dfd.ensembles.export)
        what = (
            f"an ensemble of {len(members)} detectors ("
            + ", ".join(f"{m['name']}: {m['net']}, {m['input_size']} px" for m in members)
            + f") fused by the `{d['fusion']['rule']}` rule into one fake logit per face crop"
        )
    elif clip_len:
        what = (
            f"{d['net']['target'].rsplit('.', 1)[-1]}, one fake logit per clip of {clip_len} consecutive face "
            f"crops of {d['input_spec']['size']} px of one face track"
        )
    else:
        what = f"{d['net']['target'].rsplit('.', 1)[-1]}, one fake logit per face crop of {d['input_spec']['size']} px"
    lines = [
        f"# {d.get('name', 'dfd model')}",
        "",
        "## Intended use",
        "",
        f"Scores face crops, and through `python -m dfd.predict` raw {media}, for face manipulation "
        f"(deepfakes): {what}. A screening "
        "aid for people who review media, not a verdict: its scores are only as good as the match between "
        "the inputs and the training data below, and a detector can be evaded on purpose.",
        "",
    ]
    lines += published_section(d.get("published"))
    if members:
        lines += ["## Members", "", "| member | net | input | mean weight on test |", "|---|---|---:|---:|"]
        lines += [
            f"| {m['name']} | {m['net']} | {m['input_size']} px | {_fmt(m.get('weight', float('nan')))} |"
            for m in members
        ]
        lines += [
            "",
            f"Fusion rule `{d['fusion']['rule']}`, fitted on validation only: {d['fusion']['params']}.",
            "",
        ]
        if d.get("agreement_threshold") is not None:
            lines += [
                f"Predictions flag `low_agreement` where under {d['agreement_threshold']:.0%} of the members "
                "side with the ensemble (`agreement`).",
                "",
            ]
    lines += ["## Training data", ""]
    for key in ("data", "run", "checkpoint", "epoch", "config_sha256"):
        if training.get(key) is not None:
            lines.append(f"- {key}: `{training[key]}`")
    pre = d.get("preprocessing") or {}
    if pre:
        lines.append(
            "- crops: " + ", ".join(f"{k} {v}" for k, v in pre.items() if k not in ("manifest_sha256",))
        )
    lines += ["", "## Metrics (validation split of the training data)", ""]
    metrics = training.get("metrics") or {}
    if metrics:
        lines += ["| metric | value |", "|---|---:|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in sorted(metrics.items())]
    else:
        lines.append("No metrics were recorded with the checkpoint.")
    test = training.get("test_metrics") or {}
    if test:
        lines += ["", "Test split (evaluated once, after every choice was made on validation):", ""]
        lines += ["| metric | value |", "|---|---:|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in sorted(test.items())]
    lines += ["", "## Calibration", ""]
    cal = d.get("calibration")
    if cal:
        frame = ", ".join(f"{k} {_fmt(v)}" for k, v in cal["thresholds"].items())
        lines.append(f"- {unit} thresholds, fitted on validation: {frame}")
        for agg, table in cal.get("video_thresholds", {}).items():
            lines.append(
                f"- video thresholds ({agg} of {unit} scores): "
                + ", ".join(f"{k} {_fmt(v)}" for k, v in table.items())
            )
        lines.append(f"- default video aggregation: {cal.get('video_aggregation')}")
        if cal.get("temperature_fitted", True):
            lines.append(f"- temperature: {_fmt(cal['temperature'])}")
        else:
            lines.append(f"- temperature: not fitted ({cal.get('temperature_note', '')})")
    else:
        lines.append("No calibration: decisions use 0.5.")
    lines += ["", "## Known limits", ""]
    cross = d.get("cross_dataset") or {}
    if cross:
        lines += [
            "Measured on other datasets (cross-dataset evaluation): detectors lose accuracy on "
            "manipulations and recording conditions they were not trained on.",
            "",
            "| dataset | " + " | ".join(sorted({m for v in cross.values() for m in v})) + " |",
        ]
        keys = sorted({m for v in cross.values() for m in v})
        lines.append("|---|" + "---:|" * len(keys))
        lines += [
            f"| {ds} | " + " | ".join(_fmt(v.get(k, float("nan"))) for k in keys) + " |"
            for ds, v in cross.items()
        ]
    else:
        lines.append(
            "No cross-dataset figures were given at export (`dfd.export cross_eval=<cross_eval.json>`): "
            "expect lower accuracy on data unlike the training data."
        )
        lines.append("")
    lines += [
        "- Faces are found and cropped with the settings above; other crops (margin, size, detector) "
        "lower accuracy, and `dfd.predict` warns when asked to use them.",
        "- One face per track and frame is scored; faces MTCNN misses are not scored.",
        "",
    ]
    if digest:
        lines += [
            "## Integrity",
            "",
            f"digest: `{digest}`",
            "",
            'The sha256 over every file of this folder but this card (README, "Exported model folders"). '
            f"Pin it to run exactly this model: `dfd.predict ckpt_path=<folder> digest={digest} ...` "
            "(or `dfd.serve`) refuses a folder whose digest differs.",
            "",
        ]
    lines += [
        "## Versions",
        "",
        ", ".join(f"{k} {v}" for k, v in d.get("versions", {}).items()),
        "",
    ]
    return "\n".join(lines)
