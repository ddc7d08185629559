"""Generate a mini raw dataset: ``python -m dfd.generate mini=<layout> [out_dir=<dir>] [mini.<option>=...]``.

Writes a small tree in one of the raw layouts dfd reads (``conf/mini/``: FF++, DFD, Celeb-DF,
Celeb-DF++, DFDC, DFDCP, DeeperForensics, WildDeepfake, UADFV, FakeAVCeleb, LAV-DF/AV-Deepfake1M,
folders, DeepfakeBench, DF40), with real faces in real H.264 (+ AAC) video, for the demo and for
trying a pipeline end to end. The trees are :mod:`dfd.data.synthetic.mini`.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.data.tasks import generate

main = entry("generate", generate)

if __name__ == "__main__":
    main()
