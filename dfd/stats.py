"""Dataset statistics: ``python -m dfd.stats data=<name>``.

Prints the crops and videos per split × label × method, the imbalance per split, the
skipped videos with their reasons and a leak audit (what two splits share), and writes ``samples.png`` (sample crops per class) to the
run directory. The tables are :mod:`dfd.reports.dataset`.
"""

from __future__ import annotations

from omegaconf import DictConfig

from dfd.reports.dataset import report
from dfd.utils.entry import entry
from dfd.utils.instantiate import instantiate


def stats(cfg: DictConfig) -> str:
    """Print and return the statistics of ``cfg.data``."""
    datamodule = instantiate(cfg.data)
    datamodule.verify()
    rows = datamodule.load_rows()
    text = report(rows, datamodule.skipped, datamodule.root, cfg.out_dir, cfg.audit_sample)
    print(text, flush=True)
    return text


main = entry("stats", stats)

if __name__ == "__main__":
    main()
