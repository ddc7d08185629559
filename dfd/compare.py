"""A/B comparison: ``python -m dfd.compare ckpt_a=<A>.ckpt ckpt_b=<B>.ckpt [data=<name>] [split=test]``.

Scores both checkpoints on the same split (by default the data of run A), then reports each
AUC with a paired, stratified bootstrap interval and DeLong's test for the difference of the two
correlated AUCs, at frame and video level. Writes ``compare.json`` and ``compare.md`` to
``out_dir``. See :mod:`dfd.metrics.comparison`.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.evaluation.tasks import compare

main = entry("compare", compare)

if __name__ == "__main__":
    main()
