"""dfd: deepfake detection experiments.

``ls dfd/`` shows the commands (``dfd/<verb>.py``, ``python -m dfd.<verb>`` or ``dfd <verb>``), each
only composing its config and calling its task, and the library's stages, in pipeline order:
``core`` (contracts every stage shares) → ``raw`` (datasets as shipped) → ``preprocessing`` (face
crops, audio, manifests) → ``data`` (DataModules) → ``models`` (nets, LightningModules, losses) →
``metrics``, ``reports``, ``callbacks`` → ``inference`` (a detector in use) → ``ensembles`` →
``config`` (Hydra) → ``artifacts`` (run and model folders) → ``training`` → ``evaluation``. Each
command's task is in ``dfd/<stage>/tasks.py``. Map: ``docs/architecture.md``.
"""

from dfd.core.moved import install as _install_moved

_install_moved()  # configs and imports of earlier versions' module paths keep working
