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

from dfd.config.entry import entry
from dfd.inference.tasks import serve

main = entry("serve", serve, renames={"model": "ckpt_path"})

if __name__ == "__main__":
    main()
