"""Generate a mini raw dataset: ``python -m dfd.generate mini=<layout> [out_dir=<dir>] [mini.<option>=...]``.

Writes a small tree in one of the raw layouts dfd reads (``conf/mini/``: FF++, DFD, Celeb-DF,
Celeb-DF++, DFDC, DFDCP, DeeperForensics, WildDeepfake, UADFV, FakeAVCeleb, LAV-DF/AV-Deepfake1M,
folders, DeepfakeBench, DF40), with real faces in real H.264 (+ AAC) video, for the demo and for
trying a pipeline end to end. The trees are :mod:`dfd.data.synthetic.mini`.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from dfd.utils.entry import entry
from dfd.utils.instantiate import instantiate


def generate(cfg: DictConfig) -> Path:
    """Write the tree of ``cfg.mini`` to ``cfg.out_dir``; return its root."""
    make = instantiate(cfg.mini)
    root = make(Path(cfg.out_dir), spec=instantiate(cfg.video))
    n = sum(1 for p in root.rglob("*") if p.is_file())
    name = cfg.mini._target_.rsplit(".", 1)[-1].removeprefix("make_")
    print(f"wrote {name} mini tree with {n} files to {root}", flush=True)
    return root


main = entry("generate", generate)

if __name__ == "__main__":
    main()
