"""notebooks/inspect_run.ipynb runs on a trained run, committed without outputs."""

from __future__ import annotations

import os

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_notebook_runs_on_the_run(trained_runs):
    import nbformat
    from nbclient import NotebookClient

    root, _ = trained_runs
    nb = nbformat.read(ROOT / "notebooks" / "inspect_run.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    os.environ["DFD_RUN_DIR"] = str(root / "a")
    try:
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
        ).execute()
    finally:
        os.environ.pop("DFD_RUN_DIR", None)
    text = "\n".join(
        o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream"
    )
    assert "misclassified at the calibrated threshold" in text and "mistakes by method:" in text
    images = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert images >= 8  # the report's figures and the crops
