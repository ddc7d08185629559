"""ONNX Runtime against eager PyTorch on CPU: Xception (299 px) and EfficientNet-B4 (380 px).

Baseline: the eager net in ``torch.inference_mode`` (what ``dfd.predict`` runs for a checkpoint or
``backend=torch``); against the exported ``model.onnx`` in ONNX Runtime (the default backend of
exported folders), both with as many threads as the machine has cores. Batch 1 and 8; the
median of several timed runs after warm-up. Prints images/s and the ratio ONNX Runtime / torch.

    python benchmarks/bench_onnx.py [--repeats 5] [--nets xception,efficientnet_b4]

ONNX Runtime runs with its full graph optimisations (ORT_ENABLE_ALL, its default, set explicitly
here) and nothing else tuned: that already clears the 1.3x aim; see docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from dfd.inference.export import export_onnx
from dfd.models.nets.timm_net import TimmNet
from dfd.models.nets.xception import Xception

NETS = {
    "xception": lambda: Xception(input_size=299),
    "efficientnet_b4": lambda: TimmNet(model_name="efficientnet_b4", input_size=380, dropout=0.4),
}


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--nets", default="xception,efficientnet_b4")
    parser.add_argument("--batches", default="1,8")
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    print(f"{threads} threads; median of {args.repeats} runs")
    print("| net | batch | torch (img/s) | ONNX Runtime (img/s) | ratio ORT/torch |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.nets.split(","):
            torch.manual_seed(0)
            net = NETS[name]().eval()
            path = Path(tmp) / f"{name}.onnx"
            export_onnx(net, net.input_spec, path)
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            for batch in (int(b) for b in args.batches.split(",")):
                x = torch.randn(batch, 3, net.input_spec.size, net.input_spec.size)
                xn = x.numpy()

                def eager(x=x, net=net):
                    with torch.inference_mode():
                        net(x)

                t_torch = median_seconds(eager, args.repeats)
                t_ort = median_seconds(
                    lambda xn=xn, session=session: session.run(None, {"image": xn}), args.repeats
                )
                print(
                    f"| {name} | {batch} | {batch / t_torch:.2f} | {batch / t_ort:.2f} | {t_torch / t_ort:.2f} |",
                    flush=True,
                )
                assert np.isfinite(t_ort)


if __name__ == "__main__":
    main()
