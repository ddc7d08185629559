"""The orthonormal DCT-II matrix, shared by the DCT-band noise augmentation
(:class:`dfd.data.augment.DCTNoise`, 8x8 JPEG blocks) and F3-Net's frequency branches
(:mod:`dfd.models.nets.f3net`: the whole image, and 10x10 windows).

NumPy only, so that a net may import it without the augmentation stack.
"""

from __future__ import annotations

import numpy as np


def dct_matrix(size: int = 8) -> np.ndarray:
    """The orthonormal DCT-II matrix ``D`` (``size`` x ``size``): ``D @ x`` is
    ``scipy.fft.dct(x, norm="ortho", axis=0)`` of a column, and ``D.T`` inverts it."""
    k = np.arange(size)[:, None]
    i = np.arange(size)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * size)) * np.sqrt(2.0 / size)
    d[0] /= np.sqrt(2.0)
    return d
