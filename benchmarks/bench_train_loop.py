"""Training throughput of dfd's Lightning loop against a bare PyTorch loop.

Same net (Meso4), same in-memory data tensors, same batch size, optimizer and loss; both run in
this process, alternating, and the best of several repeats is kept for each. Prints images/s of
each and the ratio dfd/bare (target on CPU: >= 0.95).

    python benchmarks/bench_train_loop.py [--steps 60] [--batch 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import time

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from dfd.losses import BCELoss
from dfd.models.detector_module import DetectorModule
from dfd.models.nets.mesonet import Meso4


class TensorDictDataset(Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        return {
            "image": self.images[i],
            "label": self.labels[i],
            "video_idx": torch.tensor(i),
            "video_id": str(i),
        }


def bare_loop(images: torch.Tensor, labels: torch.Tensor, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    net = Meso4()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = BCELoss()
    loader = DataLoader(TensorDictDataset(images, labels), batch_size=batch, shuffle=True, drop_last=True)
    net.train()
    done = 0
    start = time.perf_counter()
    while done < steps:
        for b in loader:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(b["image"]), b["label"])
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    return steps * batch / (time.perf_counter() - start)


def lightning_loop(images: torch.Tensor, labels: torch.Tensor, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    module = DetectorModule(
        net=Meso4(), loss=BCELoss(), optimizer=functools.partial(torch.optim.Adam, lr=1e-3)
    )
    loader = DataLoader(TensorDictDataset(images, labels), batch_size=batch, shuffle=True, drop_last=True)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=loader)
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    size = Meso4.input_spec.size
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(args.batch * 8, 3, size, size, generator=gen)
    labels = (torch.rand(args.batch * 8, generator=gen) > 0.5).float()
    bare, lit = [], []
    for _ in range(args.repeats):  # alternate so machine noise hits both alike
        bare.append(bare_loop(images, labels, args.batch, args.steps))
        lit.append(lightning_loop(images, labels, args.batch, args.steps))
    b, lt = max(bare), max(lit)
    print(f"model Meso4 @ {size}px, batch {args.batch}, {args.steps} steps, best of {args.repeats}")
    print(f"bare PyTorch loop : {b:8.1f} images/s")
    print(f"dfd Lightning loop: {lt:8.1f} images/s")
    print(f"ratio dfd/bare    : {lt / b:.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
