"""Export a trained detector: ``python -m dfd.export ckpt_path=<run>/checkpoints/best.ckpt out_dir=<folder>``.

Writes a self-describing folder that runs without dfd's training code and without unpickling
anything: ``model.onnx`` (dynamic batch), ``model.safetensors``, ``dfd_model.json`` (the net to
rebuild, input spec and preprocessing contract, calibration, preprocessing fingerprint, training
data and validation metrics, versions, the sha256 of the model files) and ``MODEL_CARD.md``.
``dfd.predict`` and ``dfd.serve`` run it. The last line printed is the folder's digest,
``digest: sha256:<64 hex>`` (also in ``MODEL_CARD.md``): ``digest=`` on ``dfd.predict`` and
``dfd.serve`` pins it.

``ckpt_path=<dfd.ensemble run folder>`` exports an ensemble: one folder with every member, the
fitted rule, weights and calibration, which ``dfd.predict`` and ``dfd.serve`` run like one model.
The steps are :mod:`dfd.artifacts.exporting`.
"""

from __future__ import annotations

from dfd.artifacts.tasks import export
from dfd.config.entry import entry

main = entry("export", export)

if __name__ == "__main__":
    main()
