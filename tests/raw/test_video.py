"""Frame sampling: evenly spaced or strided, from a start frame on."""

from __future__ import annotations

from dfd.raw.video import sample_indices


def test_sample_indices_even_and_stride():
    assert sample_indices(100, 5).tolist() == [0, 25, 50, 74, 99]
    assert sample_indices(10, 32).tolist() == list(range(10))
    assert sample_indices(100, 4, stride=10).tolist() == [0, 10, 20, 30]
    assert sample_indices(25, 0, stride=10).tolist() == [0, 10, 20]
