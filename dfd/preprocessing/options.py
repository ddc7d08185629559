"""How preprocessing samples videos and what it writes (``conf/preprocess.yaml``, ``preprocess.*``)."""

from __future__ import annotations

from dataclasses import dataclass

from dfd.preprocessing.landmarks import check_provider
from dfd.raw.video import ROUNDINGS


@dataclass
class PreprocessOptions:
    """Sampling and output settings shared by the frame and clip runners.

    Attributes:
        num_frames: frames decoded per video, evenly spaced (with ``stride > 0``: at most this many).
        stride: take every ``stride``-th frame instead of spacing evenly (0 = evenly).
        index_rounding: how evenly spaced positions become frame indices (frame mode):
            ``nearest`` or ``floor`` (DeepfakeBench's; :func:`dfd.raw.video.sample_indices`).
        audio: write each video's 16 kHz mono wav when the dataset has audio (frame mode).
        trim_leading_silence: start sampling after the audio's leading silence
            (:func:`dfd.raw.audio.leading_silence_seconds`), video and audio together.
        reuse_source_boxes: fakes reuse the face boxes of the original they share footage with.
        image_ext: crop file type (``.png`` or ``.jpg``).
        clip_len: clip mode for audio-visual models: clips of ``clip_len`` consecutive frames
            (0 = frame mode).
        clips_per_video: clips cut from each video in clip mode.
        landmarks: landmarks stored beside every crop, in crop px
            (:mod:`dfd.preprocessing.landmarks`): ``none``, ``mtcnn5`` or ``dlib68``.
        mask_threshold: a cropped manipulation-mask pixel (0-255) above this is forged in the saved
            0/255 mask (and in the mask-guided face choice).
    """

    num_frames: int = 32
    stride: int = 0
    index_rounding: str = "nearest"
    audio: bool = True
    trim_leading_silence: bool = False
    reuse_source_boxes: bool = True
    image_ext: str = ".png"
    clip_len: int = 0
    clips_per_video: int = 4
    landmarks: str = "none"
    mask_threshold: int = 127

    def __post_init__(self) -> None:
        check_provider(self.landmarks)
        if self.index_rounding not in ROUNDINGS:
            raise ValueError(
                f"preprocess.index_rounding={self.index_rounding!r}: expected one of {list(ROUNDINGS)}"
            )
        if not 0 <= self.mask_threshold < 255:
            raise ValueError(
                f"preprocess.mask_threshold={self.mask_threshold}: expected 0-254 (a mask pixel above it is forged)"
            )
