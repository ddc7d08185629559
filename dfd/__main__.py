"""``python -m dfd <command> ...``: the same as the ``dfd`` command (:mod:`dfd.cli`)."""

import sys

from dfd.cli import main

sys.exit(main())
