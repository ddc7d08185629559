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
