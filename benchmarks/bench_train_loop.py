"""Training throughput of dfd against a bare PyTorch loop, two ways.

1. The loop: dfd's Lightning module and trainer (no callbacks, no logger, no validation) against a
   bare loop; same net (Meso4), in-memory tensors, batch size, optimizer and loss. Target >= 0.95.
2. As users run it: ``dfd.train experiment=mesonet_synthetic`` with the default callbacks
   (checkpoints, early stopping, calibration, figures, statistics, progress bar), the TensorBoard
   logger and validation every epoch, against a bare loop that trains on the same DataLoaders and
   computes the validation AUC every epoch. Both read the same generated crops (made once, before
   timing). The ratio shows what the conveniences cost per epoch.

Both run in this process, alternating, and the best of several repeats is kept for each.

    python benchmarks/bench_train_loop.py [--steps 60] [--batch 32] [--repeats 3] [--epochs 2]
"""

from __future__ import annotations

import argparse
import functools
import logging
import shutil
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from dfd.config.entry import quiet
from dfd.models.detector_module import DetectorModule
from dfd.models.losses import BCELoss
from dfd.models.nets.mesonet import Meso4

ROOT = Path(__file__).resolve().parents[1]


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


def user_config(out: Path, epochs: int):
    """``dfd.train experiment=mesonet_synthetic`` as a user runs it, writing into ``out``."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf")):
        return compose(
            "train",
            [
                "experiment=mesonet_synthetic",
                f"paths.root_dir={ROOT}",
                f"paths.data_dir={out / 'data'}",
                f"paths.log_dir={out}",
                f"paths.output_dir={out / 'run'}",
                f"paths.work_dir={ROOT}",
                f"trainer.max_epochs={epochs}",
                "test=false",
                "data.num_workers=0",
                "callbacks.early_stopping.patience=100",
            ],
        )


def dfd_train(out: Path, epochs: int) -> float:
    """Seconds of one ``dfd.train`` run (data already generated)."""
    from dfd.training.tasks import train

    shutil.rmtree(out / "run", ignore_errors=True)
    cfg = user_config(out, epochs)
    start = time.perf_counter()
    train(cfg)
    return time.perf_counter() - start


def bare_train(out: Path, epochs: int) -> float:
    """Seconds of a bare loop over the same DataLoaders: train, then validation AUC, every epoch."""
    from sklearn.metrics import roc_auc_score

    from dfd.config.instantiate import instantiate

    cfg = user_config(out, epochs)
    torch.manual_seed(0)
    datamodule = instantiate(cfg.data)
    net = Meso4()
    datamodule.set_input_spec(net.input_spec)
    datamodule.prepare_data()
    datamodule.setup("fit")
    opt = torch.optim.Adam(net.parameters(), lr=float(cfg.model.optimizer.lr))
    loss_fn = BCELoss()
    start = time.perf_counter()
    for _ in range(epochs):
        net.train()
        for b in datamodule.train_dataloader():
            opt.zero_grad(set_to_none=True)
            loss_fn(net(b["image"]), b["label"]).backward()
            opt.step()
        net.eval()
        scores, labels = [], []
        with torch.no_grad():
            for b in datamodule.val_dataloader():
                scores.append(torch.sigmoid(net(b["image"])[:, 0]))
                labels.append(b["label"])
        roc_auc_score(torch.cat(labels).numpy(), torch.cat(scores).numpy())
    return time.perf_counter() - start


def main() -> None:
    quiet()  # no Lightning cloud tips between the figures
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="steps per loop measurement (30; --full: 60)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=None, help="alternated measurements (2; --full: 3)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the user-run comparison")
    parser.add_argument(
        "--full", action="store_true", help="the sizes docs/performance.md reports (make bench-full)"
    )
    args = parser.parse_args()
    args.steps = args.steps or (60 if args.full else 30)
    args.repeats = args.repeats or (3 if args.full else 2)
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

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        logging.disable(logging.WARNING)  # the runs' own logs would bury the table
        bare_train(out, 1)  # generates the synthetic crops once, before any timing
        bare_s, user_s = [], []
        for _ in range(args.repeats):
            bare_s.append(bare_train(out, args.epochs))
            user_s.append(dfd_train(out, args.epochs))
        logging.disable(logging.NOTSET)
    b, u = min(bare_s), min(user_s)
    print(f"\nas users run it: experiment=mesonet_synthetic, {args.epochs} epochs, validation every epoch")
    print(f"bare loop, same loaders, val AUC per epoch : {b:7.2f} s")
    print(f"dfd.train, default callbacks and logger    : {u:7.2f} s")
    print(f"ratio dfd.train/bare (throughput)          : {b / u:.3f}")


if __name__ == "__main__":
    main()
