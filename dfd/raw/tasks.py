"""The tasks of the raw stage's commands: each is what ``dfd <verb>`` runs once its config is composed."""

from __future__ import annotations

import inspect
import json
import logging
from dataclasses import asdict
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from dfd.config.instantiate import instantiate
from dfd.raw.expected import NO_COUNTS_NOTE, OFFICIAL_FILES, expected_counts
from dfd.raw.verify import Verification, check_checksums, check_official_files, verify_records

log = logging.getLogger(__name__)


def verify(cfg: DictConfig) -> Verification:
    """Verify ``cfg.data``'s raw tree; print, write, and (``strict``) fail when incomplete."""
    layout = cfg.data.get("layout")
    if cfg.data.get("raw_dir") is None or layout is None:
        raise ValueError(
            f"data={cfg.data.get('_target_')} has no raw layout to verify: pick a raw dataset "
            "(data=ffpp|celebdf|dfdc|fakeavceleb|...) and set data.raw_dir=<path>"
        )
    root = Path(str(cfg.data.raw_dir)).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data.raw_dir={root} is not a folder")
    target = str(layout._target_)
    args = {k: v for k, v in OmegaConf.to_container(layout, resolve=True).items() if not k.startswith("_")}
    result = Verification()
    try:
        parse = instantiate(layout)
        # a partial download (some methods or levels not fetched) is counted, not refused
        takes_absent_ok = "absent_ok" in inspect.signature(parse).parameters
        records = parse(absent_ok=True) if takes_absent_ok else parse()
        result = verify_records(records, expected_counts(target, **args), root)
    except (FileNotFoundError, ValueError) as err:  # a required file missing or damaged
        result.layout_error = str(err)
    except Exception as err:  # a parser tripping on metadata it did not foresee: still write the report
        log.debug("the layout %s failed", target, exc_info=True)
        result.layout_error = f"{target} failed with {type(err).__name__}: {err}"
    result.note = NO_COUNTS_NOTE.get(target, "")
    result.files = check_official_files(root, OFFICIAL_FILES.get(target, []))
    if cfg.get("checksums"):
        result.checksums = check_checksums(root, Path(str(cfg.checksums)).expanduser())

    out = Path(str(cfg.out_dir))
    out.mkdir(parents=True, exist_ok=True)
    (out / "missing.txt").write_text("".join(f"{p}\n" for p in result.missing + result.bad_metadata))
    (out / "verify.json").write_text(json.dumps(asdict(result), indent=2))
    print("\n".join([f"verify {cfg.data_name}: {root}", *result.lines(), f"missing paths: {out / 'missing.txt'}"]),
          flush=True)  # fmt: skip
    if cfg.strict and result.failed():
        raise SystemExit(f"strict: {root} is incomplete ({len(result.problems())} problems, listed above)")
    return result
