"""One released checkpoint → one dfd model folder (``dfd.import_weights``).

The file is opened without running code (``torch.load(weights_only=True)``, or safetensors), its
source's ``convert`` maps it key by key into a dfd net (:mod:`dfd.published.sources`), and
:func:`dfd.inference.export.export_model` writes the folder: ONNX (checked against the torch net
within 1e-4), safetensors, ``dfd_model.json`` with the source's input contract as ``input_spec``
and its crop settings as the preprocessing ``dfd.predict`` reproduces, and ``MODEL_CARD.md`` with
the source, paper, licence and the numbers the source reports, marked as theirs. A non-commercial
licence is printed once per process when its checkpoint is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dfd.core.digest import file_sha256
from dfd.core.safe_load import load_torch_file
from dfd.published.catalogue import Entry, entries_for, get_entry
from dfd.published.sources import Source, get_source

#: sources whose licence terms this process has printed
_TERMS_SHOWN: set[str] = set()


def load_release(path: Path, source: Source) -> Any:
    """The released file's contents as plain data: safetensors as a dict of tensors, anything else
    through ``torch.load(weights_only=True)``, which refuses files that would run code."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return load_torch_file(
        path, opt_in=f"nothing: a {source.name} release holds tensors only; this file is not one"
    )


def show_terms(source: Source, say: Callable[[str], None] = print) -> None:
    """Print a non-commercial source's terms, once per process."""
    if source.non_commercial and source.name not in _TERMS_SHOWN:
        _TERMS_SHOWN.add(source.name)
        flag = "" if "commercial" in source.licence else " (non-commercial use only)"
        say(f"licence of {source.name}: {source.licence}{flag}. {source.terms}")


def find_entry(source: Source, digest: str, entry: str | None) -> Entry | None:
    """The catalogue entry that describes the file: the one named, else the one with this sha256."""
    if entry is not None:
        found = get_entry(entry)
        if found.source != source.name:
            raise ValueError(
                f"entry={entry} is a {found.source} checkpoint, not {source.name}: "
                f"use source={found.source}, or drop entry"
            )
        return found
    return next((e for e in entries_for(source.name) if e.sha256 == digest), None)


def reported_numbers(source: Source, entry: Entry | None) -> list[dict[str, Any]]:
    """The numbers the source reports for this file (its entry's), or for each of its releases
    when the file matches none (each labelled with the release it belongs to)."""
    entries = [entry] if entry is not None else entries_for(source.name)
    return [
        {**r, "checkpoint": e.file, "trained_on": e.trained_on, "entry": e.name}
        for e in entries
        for r in e.reported
    ]


def crop_settings(source: Source) -> dict[str, Any]:
    """The preprocessing record ``dfd.predict`` crops by: dfd's MTCNN set closest to the source."""
    contract = source.contract
    return {
        "detector": "facenet-pytorch MTCNN",
        **dict(contract.cropper),
        "mode": "frames",
        "frames_per_video": contract.frames_per_video,
        "source_detector": contract.detector,
    }


def import_checkpoint(
    source: str,
    path: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    entry: str | None = None,
    opset: int = 17,
    say: Callable[[str], None] = print,
) -> Path:
    """Convert the released file ``path`` of ``source`` into a model folder at ``out_dir``; return it."""
    src = get_source(source)
    path = Path(str(path)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"path={path}: no such file; download the {src.name} release "
            f"({', '.join(src.files) or 'see ' + src.code}) first, or use python -m dfd.weights get"
        )
    digest = file_sha256(path)
    found = find_entry(src, digest, entry)
    if found is not None and found.verified and found.sha256 != digest:
        raise ValueError(
            f"path={path}: its sha256 {digest} is not entry {found.name}'s {found.sha256}: "
            "a different or damaged file; download it again, or drop entry"
        )
    show_terms(src, say)
    converted = src.convert(load_release(path, src))
    net = converted.net.eval()
    net.input_spec = src.contract.input_spec()
    from dfd.inference.export import export_model

    published = {
        "source": src.name,
        "title": found.title if found else src.title,
        "paper": found.paper if found else src.paper,
        "code": src.code,
        "licence": src.licence,
        "terms": src.terms,
        "non_commercial": src.non_commercial,
        "file": path.name,
        "file_sha256": digest,
        "file_size": path.stat().st_size,
        "entry": found.name if found else None,
        "trained_on": found.trained_on if found else None,
        "score": src.score,
        "contract": src.contract.to_dict(),
        "reported": reported_numbers(src, found),
        "dropped": converted.dropped,
    }
    out = export_model(
        net,
        {"target": converted.target, "kwargs": converted.kwargs},
        out_dir,
        preprocessing=crop_settings(src),
        training={"data": found.trained_on if found else f"see {src.paper}", "checkpoint": path.name},
        name=name or published["title"],
        opset=opset,
        published=published,
    )
    return out
