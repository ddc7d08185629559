"""Augmentations follow seed_everything, and every DataLoader worker draws its own."""

from __future__ import annotations

import numpy as np
import torch

from dfd.core.input_spec import InputSpec


class _SameImage(torch.utils.data.Dataset):
    def __init__(self) -> None:
        from dfd.data.transforms import build_train_transform

        self.transform = build_train_transform(InputSpec(32), strength=2.0)
        self.image = np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8)

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.transform(image=self.image)["image"])


def test_each_dataloader_worker_draws_its_own_augmentations():
    from dfd.data.transforms import seed_worker_transforms

    def two_items(init) -> list[torch.Tensor]:  # item 0 from worker 0, item 1 from worker 1
        loader = torch.utils.data.DataLoader(_SameImage(), batch_size=1, num_workers=2, worker_init_fn=init)
        return [b[0] for b in loader]

    a, b = two_items(None)
    assert torch.equal(a, b)  # forked copies of one pipeline repeat each other
    a, b = two_items(seed_worker_transforms)
    assert not torch.equal(a, b)
