"""A benchmark protocol as one command: ``python -m dfd.protocol protocol=ffpp_cross [ckpt_path=<ckpt>]``.

Trains as ``conf/protocol/<name>.yaml`` says (checkpoint selected on validation), then reports the
test split of every dataset the protocol names that is present here (frame and video AUC with 95%
bootstrap intervals, a row per manipulation method), skipping the absent ones with a line saying
why. Writes ``protocol.md``, ``protocol.csv``, ``protocol.json`` and each dataset's report. The
work is :mod:`dfd.evaluation.protocol`; the protocols and each dataset's traps: ``docs/protocols.md``.
"""

from __future__ import annotations

from dfd.config.entry import entry
from dfd.evaluation.tasks import run_protocol

main = entry("protocol", run_protocol)

if __name__ == "__main__":
    main()
