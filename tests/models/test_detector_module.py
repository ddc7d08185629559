"""DetectorModule: the resume check compares schedules, nested ones too."""

from __future__ import annotations

import torch


def test_schedule_changes_looks_inside_sequential_schedulers() -> None:
    from dfd.models.detector_module import schedule_changes
    from dfd.models.schedulers import cosine_with_warmup

    def state(max_epochs: int) -> dict:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        return cosine_with_warmup(opt, warmup_epochs=1, max_epochs=max_epochs).state_dict()

    assert schedule_changes(state(10), state(10)) == {}
    assert schedule_changes(state(10), state(20)) == {"schedulers[1].T_max": (9, 19)}


def test_channels_last_keeps_weights_and_inputs_nhwc_and_the_outputs() -> None:
    from dfd.models.detector_module import DetectorModule
    from dfd.models.nets.mesonet import Meso4

    torch.manual_seed(0)
    net = Meso4()
    x = torch.rand(2, 3, 256, 256)  # Meso4 is built for 256 px
    plain = DetectorModule(net, optimizer=torch.optim.Adam).eval()
    expected = plain(x)
    module = DetectorModule(net, optimizer=torch.optim.Adam, channels_last=True).eval()
    conv = next(m for m in module.net.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv.weight.is_contiguous()  # really NHWC, not a 1x1 kernel that is both
    seen = []
    conv.register_forward_pre_hook(
        lambda _m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    assert torch.allclose(module(x), expected, atol=1e-5) and seen == [True]


def test_eval_store_keeps_sample_and_video_ids_above_2_pow_24() -> None:
    """Ids past float32's 24-bit mantissa stay distinct: as float32, 2**24 + 1 became 2**24 and
    2**24 + 3 became 2**24 + 4, so distinct samples were dropped as padding copies."""
    from dfd.models.detector_module import EvalStore

    big = 2**24
    store = EvalStore()
    index = torch.tensor([big, big + 1, big + 3])
    store.update(torch.zeros(3, 1), torch.tensor([0, 1, 1]), torch.tensor([big + 1, big + 2, big + 3]), index)
    store.update(
        torch.ones(1, 1), torch.tensor([1]), torch.tensor([big + 2]), torch.tensor([big + 1])
    )  # a copy
    out = store.compute()
    assert out["index"].dtype == out["video_idx"].dtype == torch.int64
    assert out["index"].tolist() == [big, big + 1, big + 3]
    assert out["video_idx"].tolist() == [big + 1, big + 2, big + 3]
    assert out["logits"][:, 0].tolist() == [0.0, 0.0, 0.0]  # the copy is dropped, not a sample
    store.reset()
    store.update(torch.zeros(2, 1), torch.tensor([0, 1]), torch.tensor([7, 8]))  # no index: a running count
    assert store.compute()["index"].tolist() == [0, 1]
