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
