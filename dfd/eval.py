"""Evaluate a checkpoint: ``python -m dfd.eval ckpt_path=<run>/checkpoints/best.ckpt [data=<name>] [split=test]``.

The model is rebuilt from the run's saved ``config.yaml`` (no pretrained download: the
checkpoint holds every weight) and the chosen split of the run's data, or of ``data=<name>``,
is evaluated at frame and video level, at 0.5 and at the threshold fitted on validation
(``threshold=f1|youden|precision|temperature|<number>``, from the checkpoint's calibration).
The report (figures, ``summary.json``, ``report.md``) and ``metrics.<data>.<split>.<threshold>.json``
go to the evaluation's own directory, ``out_dir``. ``data=a,b,c -m`` evaluates several
datasets, one job each; ``python -m dfd.cross_eval`` builds the cross-dataset matrix.
The steps are :func:`dfd.evaluation.scoring.evaluate`.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.evaluation.tasks import evaluate

main = entry("eval", evaluate)

if __name__ == "__main__":
    main()
