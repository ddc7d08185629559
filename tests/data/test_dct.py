"""The one DCT-II matrix of dfd (DCT-band noise, F3-Net) against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.fft import dct, idct

from dfd.data.dct import dct_matrix


@pytest.mark.parametrize("size", [8, 10, 13])
def test_dct_matrix_is_scipy_orthonormal_dct_and_its_transpose_inverts_it(size: int) -> None:
    x = np.random.default_rng(0).normal(size=(size, 5))
    d = dct_matrix(size)
    np.testing.assert_allclose(d @ x, dct(x, type=2, norm="ortho", axis=0), atol=1e-10)
    np.testing.assert_allclose(d.T @ x, idct(x, type=2, norm="ortho", axis=0), atol=1e-10)


def test_the_default_is_the_8x8_jpeg_block() -> None:
    assert dct_matrix().shape == (8, 8)
    np.testing.assert_allclose(dct_matrix(), dct_matrix(8))
