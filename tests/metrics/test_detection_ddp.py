"""DetectionMetrics under DDP: two gloo processes, each scoring half the frames of every video
(as a DistributedSampler interleaves them), give exactly the single-process values."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from dfd.metrics.detection import DetectionMetrics

pytestmark = pytest.mark.slow


def _data():
    g = torch.Generator().manual_seed(0)
    video_idx = torch.arange(40).repeat_interleave(6)
    labels = (torch.rand(40, generator=g) < 0.5).long()[video_idx]
    probs = torch.sigmoid(2 * (labels.float() - 0.5) + torch.randn(labels.numel(), generator=g))
    return probs, labels, video_idx


def _worker(rank: int, port: int, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    probs, labels, video_idx = _data()
    metric = DetectionMetrics(threshold=0.4, video_aggregation="confident")
    mine = torch.arange(rank, probs.numel(), 2)  # rank r scores samples r, r+2, ...
    for chunk in mine.split(16):
        metric.update(probs[chunk], labels[chunk], video_idx[chunk])
    out = metric.compute()
    if rank == 0:
        queue.put(out)
    dist.destroy_process_group()


def test_ddp_values_equal_single_process():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(r, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    ddp = queue.get(timeout=120)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    single = DetectionMetrics(threshold=0.4, video_aggregation="confident")
    single.update(*_data())
    want = single.compute()
    assert ddp.keys() == want.keys()
    for k, v in want.items():
        assert ddp[k] == pytest.approx(v, abs=1e-6), k
