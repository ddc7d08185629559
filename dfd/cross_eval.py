"""Cross-dataset matrix: ``python -m dfd.cross_eval +checkpoints.<name>=<ckpt> ... datasets=[a,b,c]``.

Evaluates every checkpoint (rows: the data it was trained on) on the split of every dataset
(columns) with :func:`dfd.evaluation.scoring.evaluate` (what ``dfd.eval`` runs), and writes, per metric, the matrix as markdown, CSV
and a heatmap PNG, plus ``cross_eval.json`` with every run's metrics (and the checkpoint of each
row, which ``dfd.export cross_eval=...`` reads into the model card), and the by-method matrices
(``cross_dataset_by_method_frame_{auc,ap,acc}.*``: each method's fakes against the dataset's reals). Each cell's own report
goes to ``out_dir/<row>_on_<column>/``.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.evaluation.tasks import cross_eval

main = entry("cross_eval", cross_eval)

if __name__ == "__main__":
    main()
