"""Re-encode a raw tree with FF++'s H.264 recipe: ``python -m dfd.recompress data=<name> data.raw_dir=<tree> crf=23|40 out=<new tree>``.

Any dataset becomes a c23 or c40 copy of itself (libx264 at that constant rate factor, audio
copied), keeping its layout, split files and metadata, so that cross-compression tests run on
every dataset: preprocess and evaluate the new tree as the old one. FF++'s ``raw``/``c23``/``c40``
folder names become ``c<crf>`` (``rename_compression=false`` keeps them). The work is
:mod:`dfd.preprocessing.recompress`.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from dfd.preprocessing.recompress import RecompressSummary, recompress_tree
from dfd.utils.entry import entry


def recompress(cfg: DictConfig) -> RecompressSummary:
    """Re-encode ``cfg.data.raw_dir`` into ``cfg.out`` at ``cfg.crf``; print the summary."""
    if cfg.get("out") is None:
        raise ValueError("out=<folder> is required: where the re-encoded tree goes (outside data.raw_dir)")
    src = Path(str(cfg.data.raw_dir)).expanduser()
    summary = recompress_tree(src, Path(str(cfg.out)).expanduser(), int(cfg.crf), bool(cfg.rename_compression),
                              str(cfg.preset))  # fmt: skip
    print("\n".join([f"recompressed {src} → {cfg.out} (H.264, crf {cfg.crf})", *("  " + line for line in summary.lines())]),
          flush=True)  # fmt: skip
    if summary.failed and not summary.encoded and not summary.skipped:
        raise RuntimeError(f"no video of {src} could be re-encoded; the reasons are above")
    return summary


main = entry("recompress", recompress)

if __name__ == "__main__":
    main()
