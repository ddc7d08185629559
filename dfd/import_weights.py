"""Import a published detector: ``python -m dfd.import_weights source=<name> path=<downloaded file> out_dir=<folder>``.

Converts a checkpoint someone else trained and released (``source=sbi``, ``deepfakebench_xception``,
``deepfakebench_efficientnet_b4``, ``deepfakebench_f3net``, ``deepfakebench_meso4``,
``deepfakebench_meso4_inception``, ``effort``, ``gend``) into a dfd model folder: ONNX and
safetensors, ``dfd_model.json`` with the source's input contract, and ``MODEL_CARD.md`` with its
source, paper, licence and reported numbers (theirs, not dfd's). ``dfd.predict``, ``dfd.serve``,
``dfd.eval`` and ``dfd.ensemble`` use the folder like any exported one. The file is opened
without running code. The steps are :mod:`dfd.published.importing`; ``dfd.weights`` fetches
catalogued releases.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.published.tasks import import_weights

main = entry("import_weights", import_weights)

if __name__ == "__main__":
    main()
