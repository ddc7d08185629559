"""Cross-dataset matrix shape and contents; the A/B markdown."""

from __future__ import annotations

import numpy as np
from PIL import Image

from dfd.metrics.comparison import bootstrap_auc, delong_test
from dfd.reports.tables import comparison_markdown, write_cross_dataset


def test_cross_dataset_matrix_shape_and_files(tmp_path):
    results = {
        ("ffpp", "ffpp"): 0.99, ("ffpp", "celebdf"): 0.71, ("ffpp", "dfdc"): 0.66,
        ("celebdf", "ffpp"): 0.62, ("celebdf", "celebdf"): 0.97,
    }  # fmt: skip
    frame = write_cross_dataset(results, tmp_path)
    assert frame.shape == (2, 3)
    assert list(frame.index) == ["ffpp", "celebdf"] and list(frame.columns) == ["ffpp", "celebdf", "dfdc"]
    assert frame.loc["celebdf", "ffpp"] == 0.62 and np.isnan(frame.loc["celebdf", "dfdc"])
    md = (tmp_path / "cross_dataset_auc.md").read_text().splitlines()
    table = [line for line in md if line.startswith("|")]
    assert len(table) == 2 + 2 and all(line.count("|") == 5 for line in table)
    assert "| celebdf | 0.6200 | 0.9700 | n/a |" in table
    img = np.asarray(Image.open(tmp_path / "cross_dataset_auc.png").convert("L"), dtype=float)
    assert img.std() > 10


def test_comparison_markdown_reports_both_aucs_and_p():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    a, b = y + rng.normal(size=200), 0.5 * y + rng.normal(size=200)
    ci_a, ci_b = bootstrap_auc([a, b], y, n_boot=200)
    d = delong_test(a, b, y)
    md = comparison_markdown(
        {
            "frame": {
                "n": 200,
                "alpha": 0.05,
                "bootstrap_a": ci_a.to_dict(),
                "bootstrap_b": ci_b.to_dict(),
                "delong": d.to_dict(),
            }
        }
    )
    assert f"| A | {ci_a.auc:.4f} |" in md and f"p = {d.p_value:.4g}" in md and "95% bootstrap CI" in md
