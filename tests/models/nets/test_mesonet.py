"""MesoNet (Afchar et al., WIFS 2018): parameter counts from the paper, shapes, gradients."""

import pytest
import torch

from dfd.models.nets.mesonet import Meso4, MesoInception4


@pytest.mark.parametrize(("cls", "paper_count"), [(Meso4, 27_977), (MesoInception4, 28_615)])
def test_trainable_parameters_match_the_paper(cls, paper_count):
    # The paper's Table: Meso-4 27,977 and MesoInception-4 28,615 trainable parameters at 256 px.
    assert sum(p.numel() for p in cls().parameters() if p.requires_grad) == paper_count


@pytest.mark.parametrize("cls", [Meso4, MesoInception4])
def test_every_conv_stage_has_its_own_batchnorm(cls):
    net = cls()
    bns = [m for m in net.backbone if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 4
    assert all(bn.eps == 1e-3 for bn in bns)  # Keras' epsilon


def test_input_spec_is_unit_range_at_declared_size():
    net = MesoInception4(input_size=96)
    assert net.input_spec.size == 96
    assert net.input_spec.mean == (0.0, 0.0, 0.0) and net.input_spec.std == (1.0, 1.0, 1.0)
    # An odd size still works: Keras "same" pooling keeps the partial last window.
    assert Meso4(input_size=70)(torch.rand(1, 3, 70, 70)).shape == (1, 1)
