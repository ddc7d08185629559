"""Evaluate a model: ``python -m dfd.eval ckpt_path=<run>/checkpoints/best.ckpt [data=<name>] [split=test]``,
or ``python -m dfd.eval ckpt_path=<exported model folder> data=<name> [split=test] [backend=onnx|torch]``.

A checkpoint's model is rebuilt from the run's saved ``config.yaml`` (no pretrained download:
the checkpoint holds every weight) and the chosen split of the run's data, or of
``data=<name>``, is evaluated. An exported model folder (``dfd.export``'s, or one imported
from a published checkpoint: ``dfd_model.json``, ``model.onnx``, ``model.safetensors``) has no
run config, so ``data=<name>`` is required; the data take the folder's input spec, the split
is scored with ONNX Runtime (``backend=onnx``, the default) or the folder's safetensors
(``backend=torch``) on ``device``, a pinned ``digest=sha256:<hex>`` is honoured, and crops made
unlike the folder's training crops are warned about. Either way the split is evaluated at
frame and video level, at 0.5 and at the threshold fitted on validation
(``threshold=f1|youden|precision|temperature|<number>``, from the checkpoint's or folder's
calibration; 0.5 for a folder without one, such as an imported published checkpoint).
The report (figures, ``summary.json``, ``report.md``, ``predictions.csv``) and
``metrics.<data>.<split>.<threshold>.json`` go to the evaluation's own directory, ``out_dir``;
a folder's metrics have no ``<split>/loss`` (it holds no training loss). ``data=a,b,c -m``
evaluates several datasets, one job each; ``python -m dfd.cross_eval`` builds the
cross-dataset matrix. The steps are :mod:`dfd.evaluation.scoring` and
:func:`dfd.evaluation.tasks.evaluate`.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.evaluation.tasks import evaluate

main = entry("eval", evaluate)

if __name__ == "__main__":
    main()
