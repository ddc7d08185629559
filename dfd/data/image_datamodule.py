"""DataModule over images that a layout lists directly: plain folders and DeepfakeBench frames.

These datasets ship face crops already, so their images are loaded as they are, without
preprocessing. Blended training fakes (``data.fakes=self_blended``) need landmarks, which such
images lack: their real images get dlib's 68 points once, kept under ``data.root``. Videos
placed in a folder dataset do go through ``dfd.preprocess data=folder``;
their crops (the manifest under ``root``) are added to the images.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import pandas as pd

from dfd.data.datamodule import FaceCropDataModule
from dfd.preprocessing.landmarks import IMAGE_LANDMARKS, image_landmarks
from dfd.preprocessing.manifest import COLUMNS, LANDMARK_COLUMN, STATUS_OK, manifest_exists, read_manifest
from dfd.raw.records import VideoRecord


def records_to_rows(records: list[VideoRecord]) -> pd.DataFrame:
    """Manifest rows for image records: one per image, or per frame of a frame-list record.

    ``crop_path`` (and ``mask_path``, DeepfakeBench's per-frame masks) is absolute, so the rows need
    no crop folder. Video records are left out
    (they are preprocessed); records that are not usable keep one row with their reason.
    """
    rows = []
    for r in records:
        base = {"video_id": r.video_id, "label": r.label, "method": r.method, "split": r.split, "group": r.group,
                "compression": r.compression, "source_path": str(r.path), "audio_path": ""}  # fmt: skip
        if r.status != STATUS_OK:
            rows.append({**base, "frame_idx": -1, "crop_path": "", "status": r.status, "reason": r.reason})
        elif r.frames:
            masks = r.mask_frames or (None,) * len(r.frames)
            rows += [
                {**base, "frame_idx": i, "crop_path": str(p), "mask_path": "" if m is None else str(m),
                 "status": STATUS_OK, "reason": ""}
                for i, (p, m) in enumerate(zip(r.frames, masks, strict=True))
            ]  # fmt: skip
        elif r.is_image:
            rows.append(
                {
                    **base,
                    "frame_idx": 0,
                    "crop_path": str(r.path.resolve()),
                    "status": STATUS_OK,
                    "reason": "",
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


class ImageListDataModule(FaceCropDataModule):
    """:class:`FaceCropDataModule` whose rows come from ``layout()`` (images) plus, when
    present, the crop manifest under ``root`` (videos of the same dataset).

    Args: as :class:`FaceCropDataModule`; ``layout`` is required here.
    """

    def __init__(self, root: str, layout: Callable[[], list[VideoRecord]], **kwargs) -> None:
        super().__init__(root=root, layout=layout, **kwargs)

    @cached_property
    def records(self) -> list[VideoRecord]:
        """The layout's listing, parsed once (verify and load_rows both read it)."""
        return self.layout()

    def verify(self) -> None:
        records = self.records
        videos = [r for r in records if r.status == STATUS_OK and not r.is_image and not r.frames]
        if videos and not manifest_exists(self.root):
            raise FileNotFoundError(
                f"{len(videos)} videos (e.g. {videos[0].path}) need face crops first:\n    {self.missing_hint}"
            )
        if not any(r.status == STATUS_OK for r in records):
            raise FileNotFoundError(f"no usable image under {self.raw_dir} (data.raw_dir)")
        self.audit(self.load_rows())

    def fingerprint(self) -> dict:
        """Face images as their dataset ships them, plus the crops of its videos when it has any."""
        self.load_rows()
        if self.meta:
            return super().fingerprint()
        return {"detector": "none (face images as the dataset ships them)", "dataset": Path(self.root).name,
                "manifest_sha256": None}  # fmt: skip

    def with_image_landmarks(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``rows`` with landmarks for the images that have none (blending needs them): dlib's 68
        points, computed once and kept in ``<data.root>/image_landmarks.parquet``."""
        column = (
            rows[LANDMARK_COLUMN]
            if LANDMARK_COLUMN in rows
            else pd.Series([None] * len(rows), index=rows.index)
        )
        missing = column.isna() & (rows["status"].fillna(STATUS_OK) == STATUS_OK) & (rows["label"] == 0)
        if missing.any():
            paths = rows.loc[missing, "crop_path"].astype(str).tolist()
            column = column.astype(object)
            column[missing] = image_landmarks(paths, Path(self.root) / IMAGE_LANDMARKS, "dlib68")
        return rows.assign(**{LANDMARK_COLUMN: column})

    def load_rows(self) -> pd.DataFrame:
        if self._rows is None:
            rows = records_to_rows(self.records)
            if manifest_exists(self.root):
                crops, self.meta = read_manifest(self.root)
                crops["crop_path"] = [
                    str(Path(self.root).resolve() / p) if isinstance(p, str) and p else ""
                    for p in crops["crop_path"]
                ]
                rows = pd.concat([rows, crops], ignore_index=True)
            if self.fakes != "dataset":
                rows = self.with_image_landmarks(rows)
            self._rows = self.prepare_rows(rows)
        return self._rows
