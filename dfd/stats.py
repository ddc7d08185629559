"""Dataset statistics: ``python -m dfd.stats data=<name>``.

Prints the crops and videos per split × label × method, the imbalance per split, the
skipped videos with their reasons and a leak audit (what two splits share), and writes ``samples.png`` (sample crops per class) to the
run directory. The tables are :mod:`dfd.reports.dataset`.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.reports.tasks import stats

main = entry("stats", stats)

if __name__ == "__main__":
    main()
