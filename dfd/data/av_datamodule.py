"""Audio-visual clip datasets and :class:`AVClipDataModule`, with a modality switch.

Reads a clip-mode manifest (see :mod:`dfd.preprocessing.clips`): one row per clip of ``clip_len``
face crops plus its aligned 16 kHz audio segment. ``modality`` chooses what a sample holds:

* ``video``: ``video`` float[T, 3, H, W] and ``audio`` float[1, n_mels, frames] (AVFF);
* ``image``: the frame view, one face crop per sample as ``image`` float[3, H, W], so every
  frame model trains on the same AV data;
* ``audio``: ``audio`` only (the mel-spectrogram baseline, ``model=audio_only``).

Every sample also has ``label``, ``video_idx`` (dense index of the video in its split; all
clips and frames of a video share it) and ``video_id``. Log-mel features follow AVFF
(Oorloff et al., CVPR 2024): torchaudio ``MelSpectrogram``, 16 kHz, 128 mels, 25 ms window,
10 ms hop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from dfd.core.input_spec import InputSpec
from dfd.data.datamodule import SAMPLE_COLUMNS, FaceCropDataModule, seed_for_sample, split_key
from dfd.data.mel import LogMel, fit_frames
from dfd.data.transforms import build_eval_transform, build_train_transform, to_tensor
from dfd.preprocessing.clips import read_strip
from dfd.raw.audio import SAMPLE_RATE, read_wav

log = logging.getLogger(__name__)

MODALITIES = ("video", "image", "audio")


class AVClipDataset(Dataset):
    """Clips listed by clip-manifest rows; what a sample holds depends on ``modality``.

    As in :class:`~dfd.data.datamodule.FrameDataset`, a key may be ``(epoch, index)`` (dfd's
    training samplers with ``tag_epoch``): the sample's augmentation (one draw for the whole clip,
    or for one frame in the frame view) is then seeded from ``(augment_seed, epoch, index)``, so it
    is the same whichever worker, rank or resumed run loads it.
    """

    #: keys may be ``(epoch, index)`` pairs (see the class docstring)
    takes_epoch = True

    def __init__(
        self,
        root: str | Path,
        rows: pd.DataFrame,
        clip_len: int,
        modality: str,
        transform: Any | None,
        mel: LogMel,
        audio_frames: int,
        sample_rate: int = SAMPLE_RATE,
        cache: bool = False,
    ) -> None:
        if modality not in MODALITIES:
            raise ValueError(f"data.modality={modality!r}: expected one of {list(MODALITIES)}")
        root = Path(root)
        self.table = rows.reindex(columns=list(SAMPLE_COLUMNS)).reset_index(drop=True)
        self.table["crop_path"] = [
            str(root / p) for p in self.table["crop_path"]
        ]  # absolute: evidence to open
        self.strips = [str(root / p) for p in rows["crop_path"]]
        self.wavs = [str(root / p) if isinstance(p, str) else None for p in rows["audio_path"]]
        self.labels = rows["label"].to_numpy(dtype=np.float32)
        self.video_ids = rows["video_id"].astype(str).tolist()
        self.video_names = sorted(set(self.video_ids))
        index = {v: i for i, v in enumerate(self.video_names)}
        self.video_idx = np.array([index[v] for v in self.video_ids], dtype=np.int64)
        self.clip_len, self.modality, self.transform = clip_len, modality, transform
        self.augment_seed: int | None = None
        if modality == "image":  # per-sample arrays (samplers read them): each clip gives clip_len frames
            self.labels = np.repeat(self.labels, clip_len)
            self.video_idx = np.repeat(self.video_idx, clip_len)
        self.mel, self.audio_frames, self.sample_rate = mel, audio_frames, sample_rate
        # decoded strips and log-mels by clip (per worker process); for small datasets only
        self.cache: dict[int, tuple[np.ndarray | None, torch.Tensor | None]] | None = {} if cache else None
        if modality != "image" and any(w is None for w in self.wavs):
            missing = [v for v, w in zip(self.video_ids, self.wavs, strict=True) if w is None][:3]
            raise ValueError(
                f"clips without audio (e.g. videos {missing}) in {root}: use data.modality=image, or "
                "re-run preprocessing in clip mode on a dataset with audio tracks"
            )

    def __len__(self) -> int:
        return len(self.strips) * (self.clip_len if self.modality == "image" else 1)

    def sample_table(self) -> pd.DataFrame:
        """One row per sample, in dataset order (a clip's frames in the frame view)."""
        if self.modality != "image":
            return self.table
        table = self.table.loc[self.table.index.repeat(self.clip_len)].reset_index(drop=True)
        table["frame_idx"] = table["frame_idx"] + np.tile(np.arange(self.clip_len), len(self.table))
        return table

    def load_audio(self, i: int) -> torch.Tensor:
        """Log-mel of clip ``i``: float[1, n_mels, audio_frames]."""
        samples = torch.from_numpy(read_wav(self.wavs[i], self.sample_rate))
        return fit_frames(self.mel(samples), self.audio_frames)[None]

    def _load(self, i: int) -> tuple[np.ndarray | None, torch.Tensor | None]:
        if self.cache is not None and i in self.cache:
            return self.cache[i]
        strip = read_strip(self.strips[i], self.clip_len) if self.modality != "audio" else None
        mel = self.load_audio(i) if self.modality != "image" else None
        if self.cache is not None:
            self.cache[i] = (strip, mel)
        return strip, mel

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, k = split_key(key)
        i, t = divmod(k, self.clip_len) if self.modality == "image" else (k, 0)  # clip, frame
        sample: dict[str, Any] = {
            "label": torch.tensor(self.labels[k]),
            "video_idx": torch.tensor(self.video_idx[k]),
            "video_id": self.video_ids[i],
            "index": torch.tensor(k),
        }
        strip, mel = self._load(i)
        transform = seed_for_sample(self.transform, self.augment_seed, epoch, k)
        if self.modality == "image":
            sample["image"] = to_tensor(transform(image=strip[t])["image"])
            return sample
        if self.modality == "video":
            frames = transform(images=strip)["images"]
            sample["video"] = torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))
        sample["audio"] = mel
        return sample


class AVClipDataModule(FaceCropDataModule):
    """DataLoaders over a clip-mode manifest (audio-visual datasets).

    Args:
        root: folder with the clip manifest, strips and wav segments.
        input_spec: the model's input contract (crop size, mean, std); not needed for audio.
        clip_len: frames per clip (T); must match the manifest's ``clip_len``.
        modality: ``video`` (tubelets + audio), ``image`` (frame view) or ``audio``.
        n_mels, win_ms, hop_ms: log-mel settings (AVFF: 128 mels, 25 ms, 10 ms). ``hop_ms=None``
            fits the hop to the clip: ``audio_frames`` frames span exactly its duration (at the
            manifest's fps), so audio and video stay time-aligned, the clip is neither cropped nor
            padded, and e.g. 128 frames give a 16-frame audio patch per 2-frame video tubelet of a
            16-frame clip.
        audio_frames: mel frames per clip; default ``clip duration / hop``.
        augment: the training augmentation (the ``augment=`` group, see :mod:`dfd.data.augment`),
            tubelet-consistent (the same draw for every frame of a clip); ``True`` is the
            ``default`` preset, ``False`` none. ``batch_mix`` (MixUp, CutMix) needs
            ``modality=image``: mixing clips would mix their audio and video labels apart.
        real_only: keep only real clips in every split (AVFF stage-1 pre-training).
        cache: keep decoded clips and log-mels in memory (small datasets, e.g. synthetic_av).
        raw_dir, layout, clips_per_video: what ``dfd.preprocess`` reads to write the clips.
        sampler: training-split sampler factory (the ``sampler/`` group), as for face crops.
        label: ``any`` (the default here: a clip is fake when either modality is), ``video`` or
            ``audio``; see :class:`~dfd.data.datamodule.FaceCropDataModule`.
        Other arguments as :class:`~dfd.data.datamodule.FaceCropDataModule`.
    """

    def __init__(
        self,
        root: str,
        input_spec: InputSpec | None = None,
        clip_len: int = 8,
        modality: str = "video",
        n_mels: int = 128,
        win_ms: float = 25.0,
        hop_ms: float | None = 10.0,
        audio_frames: int | None = None,
        augment: Mapping[str, Any] | bool | None = True,
        real_only: bool = False,
        cache: bool = False,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        max_samples_per_class: int | None = None,
        seed: int = 0,
        missing_hint: str = "python -m dfd.preprocess data=<name>_av data.raw_dir=<raw dataset folder>",
        raw_dir: str | None = None,
        layout: Callable[[], list] | None = None,
        clips_per_video: int | None = None,
        sampler: Callable[..., Sampler] | None = None,
        label: str = "any",
        test_fraction: float | None = None,
        leak_check: str = "refuse",
        allow_incomplete: bool = False,
    ) -> None:
        if modality not in MODALITIES:
            raise ValueError(f"data.modality={modality!r}: expected one of {list(MODALITIES)}")
        super().__init__(
            root=root,
            input_spec=input_spec,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=pin_memory,
            max_samples_per_class=max_samples_per_class,
            seed=seed,
            missing_hint=missing_hint,
            raw_dir=raw_dir,
            layout=layout,
            sampler=sampler,
            label=label,
            test_fraction=test_fraction,
            leak_check=leak_check,
            allow_incomplete=allow_incomplete,
            augment=augment,
        )
        if self.batch_mix is not None and modality != "image":
            raise ValueError(
                f"augment.batch_mix (MixUp/CutMix) mixes single images, not data.modality={modality!r} clips: "
                "use modality=image, or an augment preset without mixup/cutmix"
            )
        self.clips_per_video = clips_per_video  # read by dfd.preprocess (clip mode), not by training
        self.clip_len, self.modality, self.real_only = clip_len, modality, real_only
        self.cache = cache
        if hop_ms is None and not audio_frames:
            raise ValueError(
                "data.hop_ms=null fits data.audio_frames mel frames to each clip, but data.audio_frames is "
                "not set: give it (e.g. 128 for 16-frame audio patches over 8 video tubelets) or set data.hop_ms"
            )
        self.n_mels, self.win_ms, self.hop_ms = n_mels, win_ms, hop_ms
        self.audio_frames = audio_frames

    #: clips read their wav and frame rate columns too: the whole manifest
    manifest_columns = None

    def check_input_spec(self) -> None:
        if self.modality != "audio":  # log-mels alone need no image contract
            super().check_input_spec()

    def load_rows(self) -> pd.DataFrame:
        rows = super().load_rows()
        if self.meta.get("mode") != "clip":
            raise ValueError(
                f"{self.root} holds a frame manifest, not clips: re-run preprocessing with an AV data config "
                "(python -m dfd.preprocess data=<name>_av)"
            )
        if int(self.meta.get("clip_len", self.clip_len)) != self.clip_len:
            raise ValueError(
                f"data.clip_len={self.clip_len} but the clips in {self.root} have {self.meta['clip_len']} frames: "
                f"set data.clip_len={self.meta['clip_len']} or re-run preprocessing"
            )
        return rows

    def select_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        return rows[rows["label"] == 0] if self.real_only else rows

    def _fps(self) -> float:
        fps = self.meta.get("fps")
        if fps is None:
            raise ValueError(
                f"{self.root}/manifest.json records no fps: re-run preprocessing (clip mode) with this dfd, "
                "or set data.audio_frames (and a data.hop_ms)"
            )
        return float(fps)

    def clip_hop_ms(self, sample_rate: int) -> float:
        """The mel hop in ms: ``hop_ms``, or with ``hop_ms=None`` the one that fits ``audio_frames`` to the clip.

        The hop is a whole number of samples, at most ``clip samples / (audio_frames - 1)``, so the
        centred STFT yields at least ``audio_frames`` frames and frame k sits at k × hop in the clip.
        """
        if self.hop_ms is not None:
            return self.hop_ms
        samples = round(self.clip_len / self._fps() * sample_rate)
        hop = samples // max(self.audio_frames - 1, 1)
        if hop < 1:
            raise ValueError(
                f"data.audio_frames={self.audio_frames} is more mel frames than the {samples} samples of a "
                f"{self.clip_len}-frame clip: lower data.audio_frames or set data.hop_ms"
            )
        return hop * 1000 / sample_rate

    def clip_frames(self) -> int:
        """Mel frames per clip: ``audio_frames``, or the clip's duration at the manifest's fps."""
        if self.hop_ms is None:  # fitted to the clip (clip_hop_ms)
            return self.audio_frames
        fps = self._fps()
        natural = int(round(self.clip_len / float(fps) * 1000 / self.hop_ms))
        if self.audio_frames and abs(self.audio_frames - natural) > 0.1 * natural:
            log.warning(
                "data.audio_frames=%d but %d-frame clips at the manifest's %.2f fps last %d mel frames: "
                "the audio window is %s",
                self.audio_frames, self.clip_len, float(fps), natural,
                "cropped" if self.audio_frames < natural else "padded with silence",
            )  # fmt: skip
        return self.audio_frames or natural

    def make_dataset(self, split: str, rows: pd.DataFrame) -> AVClipDataset:
        sample_rate = int(self.meta.get("sample_rate", SAMPLE_RATE))
        frames = self.clip_frames()
        transform = None
        if self.input_spec is not None:
            transform = (
                build_train_transform(self.input_spec, self.augment)
                if split == "train"
                else build_eval_transform(self.input_spec)
            )
        mel = LogMel(sample_rate, self.n_mels, self.win_ms, self.clip_hop_ms(sample_rate))
        return AVClipDataset(
            self.root,
            rows,
            self.clip_len,
            self.modality,
            transform,
            mel,
            frames,
            sample_rate,
            cache=self.cache,
        )
