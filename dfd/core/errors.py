"""The base class of dfd's refusals: errors that say what a user must change, not bugs.

A command that meets one (a bad config value, an unsafe file, a tampered folder, missing data,
nothing left to train) prints its message in one line, without a traceback
(:func:`dfd.config.entry.run_task`); ``HYDRA_FULL_ERROR=1`` brings the traceback back.
"""

from __future__ import annotations


class DfdError(Exception):
    """An expected refusal: its message names the bad value, what was expected and the key that fixes it."""
