"""Serve an exported detector over HTTP: ``python -m dfd.serve model=<exported model folder> [host=127.0.0.1 port=8000]``.

``POST /predict`` with a multipart upload in field ``file`` (an image or a short video) answers
with the JSON of a ``dfd.predict`` row; ``GET /health`` answers ``ok``. Requests are batched, bad
uploads and malformed requests get a 4xx with the reason, and oversized ones 413; ``/info`` and
``/docs`` are off unless ``expose_info=true``. The server is
:mod:`dfd.inference.server` (LitServe). ``model=`` is read as the config key ``ckpt_path`` (the
name ``dfd.predict`` uses; ``model`` is the model config group of the other commands), so both
spellings work.
"""

from __future__ import annotations

from functools import partial

from omegaconf import DictConfig, OmegaConf

from dfd.inference.server import serve as run_server
from dfd.utils.entry import entry
from dfd.utils.runs import load_detector


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


main = entry("serve", serve, renames={"model": "ckpt_path"})

if __name__ == "__main__":
    main()
