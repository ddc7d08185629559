"""Linear probe entry point: ``python -m dfd.linear_probe [ckpt_path=<run ckpt>] [data=...] [probe.smote=true]``.

Freezes a backbone (a trained run's net, or the configured model), extracts the penultimate
embeddings of the train, val and test splits with the evaluation transform, fits a logistic
regression on train without and with SMOTE (:mod:`dfd.models.linear_probe`) and reports both
on val and test. Writes ``linear_probe.json`` into the run directory.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lightning as L
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from dfd.data.transforms import build_eval_transform
from dfd.models.linear_probe import evaluate_probe, extract_embeddings, fit_linear_probe
from dfd.utils.entry import entry
from dfd.utils.instantiate import instantiate
from dfd.utils.runs import check_run_data, load_model, resolve_checkpoint, run_config_for, run_dir_of

log = logging.getLogger(__name__)


def linear_probe(cfg: DictConfig) -> dict[str, dict[str, float]]:
    """Fit and score the probes; return ``{"<plain|smote>/<split>": metrics}``."""
    L.seed_everything(cfg.seed)
    data_cfg = cfg.data
    if cfg.ckpt_path:
        ckpt = resolve_checkpoint(cfg.ckpt_path)
        model = load_model(ckpt, allow_pickle=cfg.allow_pickle)
        if cfg.data_from_run:
            data_cfg = run_config_for(ckpt).data
            check_run_data(data_cfg, run_dir_of(ckpt) / "config.yaml")  # a run folder names only dfd's data
    else:
        model = instantiate(cfg.model, loss=instantiate(cfg.loss))
    datamodule = instantiate(data_cfg)
    datamodule.verify()
    spec = model.net.input_spec
    datamodule.set_input_spec(spec)
    datamodule.prepare_data()
    datamodule.setup("fit")
    print(f"Training split class counts: {datamodule.class_counts('train')}")

    embeddings = {}
    for split in ("train", "val", "test"):
        dataset = datamodule.datasets[split]
        # every split, train included, is embedded without augmentation
        dataset.transform, dataset.label_transforms = build_eval_transform(spec), {}
        loader = DataLoader(
            dataset, batch_size=datamodule.batch_size, shuffle=False, num_workers=datamodule.num_workers
        )
        embeddings[split] = extract_embeddings(model.net, loader, device=cfg.device)

    x_train, y_train = embeddings["train"]
    variants = {"plain": False, **({"smote": True} if cfg.probe.smote else {})}
    results: dict[str, dict[str, float]] = {}
    for name, smote in variants.items():
        probe = fit_linear_probe(
            x_train, y_train, smote=smote, k_neighbors=cfg.probe.k_neighbors, c=cfg.probe.c, seed=cfg.seed
        )
        for split in ("val", "test"):
            results[f"{name}/{split}"] = vars(evaluate_probe(probe, *embeddings[split]))
    header = f"{'probe/split':<12}" + "".join(f"{k:>18}" for k in next(iter(results.values())))
    print(header)
    for key, metrics in results.items():
        print(f"{key:<12}" + "".join(f"{v:>18.4f}" for v in metrics.values()))
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "linear_probe.json").write_text(json.dumps(results, indent=2))
    return results


main = entry("linear_probe", linear_probe)

if __name__ == "__main__":
    main()
