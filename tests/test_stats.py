"""dfd.stats: counts per split, label and method, imbalance, and the sample grid, from command-line
arguments (its main, in the test process)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_main


def test_stats_of_a_folder_dataset(raw_image_trees, tmp_path: Path) -> None:
    proc = run_main("dfd.stats", ["data=folder", *raw_image_trees["folder"], f"out_dir={tmp_path}",
                                  f"hydra.run.dir={tmp_path / 'run'}"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "counts per split × label × method" in proc.stdout
    assert "imbalance (larger class / smaller class, crops):" in proc.stdout
    assert (tmp_path / "samples.png").stat().st_size > 5_000
    assert (tmp_path / "run" / "stats.log").is_file()
