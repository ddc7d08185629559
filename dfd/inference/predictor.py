"""Scoring raw images and videos: decode, detect, crop, score, aggregate, decide.

:class:`Predictor` crops with the same :class:`~dfd.preprocessing.faces.FaceCropper` code and
settings that made the model's training crops (its preprocessing fingerprint) and samples the
same frames per video. Faces are detected whole on keyframes and followed in between, as
preprocessing finds them (:mod:`dfd.preprocessing.keyframes`, ``cropper.keyframe_every``). A video's faces are linked into tracks (:mod:`dfd.preprocessing.tracks`, shared with preprocessing);
each track's frame scores are aggregated with the rule the model was calibrated with (``mean``,
``max`` or ``confident``) and the video takes its most fake track (``track_rule``). The decision
uses the threshold fitted on validation for that aggregation (video level) or for frames
(images). An image is scored per face and takes its most fake face.

Every input gets one row, whatever happens to it: unreadable files, images or videos without a
face, videos too short and media above the pixel budget (``too_large``) say so in ``status`` and
``reason``; nothing stops the run.

Memory is bounded by ``max_pixels`` (:mod:`dfd.inference.inputs`) whatever the input: an image
or a video frame above it is refused from its header (a JPEG is decoded reduced instead), and a
video's sampled frames are decoded a few at a time (at most ``max_pixels`` pixels together), each
chunk detected and cropped before the next is decoded; only the crops are kept.

A clip model (:attr:`Detector.clip_len` = T) scores a video from its tracks' clips: each kept
track's crops, in frame order, every ``clip_stride``-th of them, cut into non-overlapping runs of
T; each clip is scored, a track's clip scores aggregated with the calibrated rule and the video
takes the track rule's track, as for frames. Tracks shorter than one clip are not scored; a
video none of whose tracks holds one is ``too_short``, and a photo ``unsupported`` (a clip model
reads no single crops). Per-crop rows (``per_frame``) are then per clip (:data:`CLIP_COLUMNS`).
How far apart consecutive crops are is preprocessing's frame sampling (``num_frames``,
``stride``), so temporal models want the dense sampling they were trained on.

An ensemble's rows also say how far its members agree (:data:`AGREEMENT_COLUMNS`): a crop's
agreement is the share of members on the ensemble's side, an input's that of the face that
decided it (an image), or the mean over the deciding track's crops (a video); ``low_agreement``
is 1 under the ensemble's ``agreement_threshold``. Single models have no such columns.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dfd.inference.detector import Detector
from dfd.inference.inputs import MAX_PIXELS, OversizedImage, UnreadableImage, kind_of, read_image
from dfd.metrics.calibration import resolve_threshold
from dfd.metrics.detection import AGGREGATIONS, ConfidentStrategy, aggregate_video
from dfd.preprocessing.dlib_faces import DETECTOR_NAME as DLIB_DETECTOR
from dfd.preprocessing.dlib_faces import DlibFaceCropper
from dfd.preprocessing.faces import JPEG_QUALITY, Face, FaceCropper, is_jpeg, jpeg_round_trip
from dfd.preprocessing.fingerprint import cropper_settings, differences
from dfd.preprocessing.keyframes import KeyframeTracker
from dfd.preprocessing.tracks import Track, track_faces
from dfd.raw.video import (
    OversizedVideo,
    UnreadableVideo,
    check_frame_size,
    frame_size,
    iter_decodable_frames,
    read_frame_chunks,
    sample_indices,
    video_timing,
)

log = logging.getLogger(__name__)

#: One row per input, in this order (``predictions.csv``, the server's JSON).
COLUMNS = ("path", "kind", "score", "decision", "threshold", "aggregation", "frames_sampled", "faces_found",
           "tracks", "status", "reason")  # fmt: skip
#: One row per scored face crop (``per_frame=true``).
FRAME_COLUMNS = ("path", "frame_idx", "track", "x1", "y1", "x2", "y2", "face_score", "score")
#: A clip model's per-crop rows, one per scored clip: its first and last frame, the box around all
#: its faces and their mean detection score.
CLIP_COLUMNS = ("path", "frame_idx", "last_frame_idx", "track", "x1", "y1", "x2", "y2", "face_score", "score")
#: Added to an ensemble's rows (``agreement`` alone to its frame rows).
AGREEMENT_COLUMNS = ("agreement", "low_agreement")
TRACK_RULES = ("max", "largest", "longest")


@dataclass
class PredictOptions:
    """How inputs are sampled and decided (``conf/predict.yaml``).

    Attributes:
        num_frames, stride: frames sampled per video (default: the training crops' sampling).
        threshold: ``f1`` | ``youden`` | ``precision`` (fitted on validation) or a number.
        aggregation: frame → track rule; ``None`` uses the one the model was calibrated with.
        track_rule: which track decides a video: ``max`` (the most fake), ``largest`` (the
            biggest face) or ``longest`` (seen in most frames).
        min_track_share: tracks seen in fewer frames than this share of the longest one are
            ignored (detector false positives, passers-by).
        min_frames: a video with fewer decodable sampled frames is ``too_short`` (at most
            ``num_frames`` are asked for: a video giving all the sampled frames is long enough).
        max_pixels: the pixel budget of an image or a video frame, and of the frames decoded at
            once (``None``: no budget); inputs above it are ``too_large``.
        clip_stride: a clip model's clips take every ``clip_stride``-th crop of a track (default:
            the training clips', from the preprocessing fingerprint, else 1).
        index_rounding: how evenly spaced frame positions become indices (``nearest``, or ``floor``
            as DeepfakeBench; :func:`dfd.raw.video.sample_indices`): the training crops'.
    """

    num_frames: int = 32
    stride: int = 0
    threshold: str | float = "f1"
    aggregation: str | None = None
    track_rule: str = "max"
    min_track_share: float = 0.25
    min_frames: int = 4
    max_pixels: int | None = MAX_PIXELS
    clip_stride: int = 1
    index_rounding: str = "nearest"

    def __post_init__(self) -> None:
        if int(self.clip_stride) < 1:
            raise ValueError(f"clip_stride={self.clip_stride}: expected a positive number of crops")
        if self.max_pixels is not None and int(self.max_pixels) < 1:
            raise ValueError(
                f"max_pixels={self.max_pixels}: expected a positive pixel count, or null for no budget"
            )
        if self.track_rule not in TRACK_RULES:
            raise ValueError(f"track_rule={self.track_rule!r}: expected one of {list(TRACK_RULES)}")
        if self.aggregation is not None and self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation={self.aggregation!r}: expected one of {list(AGGREGATIONS)}")


@dataclass
class Media:
    """What a scored input looked like, kept for explanations (``Predictor(keep_media=True)``).

    ``images`` are the sampled frames (one for an image), downscaled by ``scale`` to at most
    :data:`MEDIA_MAX_SIDE` px; ``indices`` their frame numbers; ``crops`` the face crops in the
    order of :attr:`Prediction.frames`.
    """

    images: list[np.ndarray]
    indices: list[int]
    scale: float
    crops: list[np.ndarray]


#: Longer side of the frames kept in :class:`Media` (px).
MEDIA_MAX_SIDE = 480


@dataclass
class Prediction:
    """The row of one input and, when it was scored, one row per face crop; ``track`` is the
    track that decided a video (the most fake face of an image)."""

    row: dict[str, Any]
    frames: list[dict[str, Any]] = field(default_factory=list)
    track: int = 0
    media: Media | None = None


@dataclass
class _Scan:
    """A video's sampled frames after detection: their faces and crops (by ``id`` of the face),
    the frames' size, and the frames at :data:`MEDIA_MAX_SIDE` when media are kept."""

    indices: list[int] = field(default_factory=list)
    detected: list[list[Face]] = field(default_factory=list)
    crops: list[dict[int, np.ndarray]] = field(default_factory=list)
    shape: tuple[int, ...] = (0, 0)
    images: list[np.ndarray] | None = None
    scale: float = 1.0


def _media_frames(frames: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """``(scale, frames)``: the frames downscaled to at most :data:`MEDIA_MAX_SIDE` px."""
    import cv2

    scale = min(1.0, MEDIA_MAX_SIDE / max(frames.shape[1:3]))
    size = (round(frames.shape[2] * scale), round(frames.shape[1] * scale))
    return scale, [cv2.resize(f, size, interpolation=cv2.INTER_AREA) if scale < 1 else f for f in frames]


@dataclass
class _Pending:
    """An input decoded and cropped, waiting for its crops' scores."""

    path: Path
    kind: str
    crops: list[np.ndarray]
    faces: list[tuple[int, int, Any]]  # (frame index, track, face) per crop
    frames_sampled: int
    faces_found: int
    tracks: list[Track] = field(default_factory=list)
    images: list[np.ndarray] | None = None  # the sampled frames at MEDIA_MAX_SIDE, kept with media
    scale: float = 1.0  # of ``images``
    indices: list[int] = field(default_factory=list)
    note: str = ""  # the reason column of a scored input (e.g. frames that did not decode)
    clips: list[list[int]] = field(default_factory=list)  # a clip model's clips: indices into ``crops``


class Predictor:
    """Scores images and videos with a :class:`Detector`; see the module docstring."""

    def __init__(
        self,
        detector: Detector,
        cropper: FaceCropper | DlibFaceCropper,
        options: PredictOptions | None = None,
        keep_media: bool = False,
    ) -> None:
        self.detector = detector
        self.cropper = cropper
        self.options = options or PredictOptions()
        self.keep_media = keep_media
        cal = detector.info.calibration
        self.aggregation = self.options.aggregation or (cal.video_aggregation if cal else "mean")
        self.confident = cal.confident_strategy() if cal else ConfidentStrategy()
        self.choice = self.options.threshold if cal is not None else 0.5
        self.frame_threshold = resolve_threshold(self.choice, cal, "frame")
        self.video_threshold = resolve_threshold(self.choice, cal, "video", self.aggregation)
        self.agreement_threshold = detector.agreement_threshold
        ensemble = self.agreement_threshold is not None
        self.clip_len = detector.clip_len
        self.columns = COLUMNS + AGREEMENT_COLUMNS if ensemble else COLUMNS
        self.frame_columns = FRAME_COLUMNS + AGREEMENT_COLUMNS[:1] if ensemble else FRAME_COLUMNS
        if self.clip_len:
            self.frame_columns = CLIP_COLUMNS
        self.jpeg_qualities = jpeg_round_trips(detector.info.preprocessing or {})

    def crop(self, frame: np.ndarray, face: Face) -> np.ndarray:
        """The face crop as training saw it: cropped, then saved and read back as the training crops
        were (:func:`jpeg_round_trips`; PNG crops are kept as they are)."""
        crop = self.cropper.crop(frame, face)
        for quality in self.jpeg_qualities:
            crop = jpeg_round_trip(crop, quality)
        return crop

    # -- one input --------------------------------------------------------------------------------
    def predict(self, path: str | Path) -> Prediction:
        """Score one image or video."""
        return self.predict_many([path])[0]

    def predict_many(self, paths: Iterable[str | Path]) -> list[Prediction]:
        """Score several inputs, their crops in shared batches (the server batches requests so)."""
        staged: list[Prediction | _Pending] = [self._stage(Path(p)) for p in paths]
        pending = [s for s in staged if isinstance(s, _Pending)]
        if self.clip_len:  # one score per clip of crops
            clips = [[s.crops[i] for i in clip] for s in pending for clip in s.clips]
            scores, agree = self.detector.score_clips(clips), None
        else:
            crops = [c for s in pending for c in s.crops]
            scores, agree = self.detector.score_with_agreement(crops, self.choice)
        start = 0
        out = []
        for item in staged:
            if isinstance(item, _Pending):
                n = len(item.clips) if self.clip_len else len(item.crops)
                part = slice(start, start + n)
                out.append(self._finish(item, scores[part], None if agree is None else agree[part]))
                start += n
            else:
                out.append(item)
        return out

    def _failed(
        self, path: Path, kind: str, status: str, reason: str, sampled: int = 0, faces: int = 0
    ) -> Prediction:
        return Prediction(
            self._row(path, kind, status=status, reason=reason, frames_sampled=sampled, faces_found=faces)
        )

    def _row(self, path: Path, kind: str, **values: Any) -> dict[str, Any]:
        row: dict[str, Any] = {c: None for c in self.columns}
        row.update(path=str(path), kind=kind, score=float("nan"), decision="", tracks=0, frames_sampled=0,
                   faces_found=0, reason="")  # fmt: skip
        row.update(values)
        return row

    def _stage(self, path: Path) -> Prediction | _Pending:
        kind = kind_of(path)
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            return self._failed(path, kind, "missing", f"{path} {what}")
        if kind == "unsupported":
            return self._failed(
                path, kind, "unsupported", f"{path.suffix or 'no extension'} is neither an image nor a video"
            )
        if kind == "image" and self.clip_len:
            return self._failed(
                path, kind, "unsupported", f"a photo: {self.detector.info.name} scores clips of {self.clip_len} "
                "consecutive face crops of a video (a clip model), so it cannot score a photo",
            )  # fmt: skip
        try:
            if kind == "image":
                return self._stage_image(path)
            return self._stage_video(path)
        except Exception as err:  # whatever a file does, the run goes on (Ctrl-C still stops it)
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            if not isinstance(err, UnreadableVideo | UnreadableImage | OSError | ValueError):
                log.warning("%s could not be scored", path, exc_info=True)
                reason = f"{type(err).__name__}: {reason}"
            status = "too_large" if isinstance(err, OversizedImage | OversizedVideo) else "unreadable"
            return self._failed(path, kind, status, reason)

    def _too_small(self, height: int, width: int, what: str) -> str | None:
        """Why a frame of this size can hold no detectable face, or None when it can."""
        if self.cropper.can_detect(height, width):
            return None
        dh, dw = self.cropper.detect_size(height, width)
        scaled = (
            f", {dw}x{dh} px scaled to detect_max_side={self.cropper.detect_max_side}"
            if (dh, dw) != (height, width)
            else ""
        )
        return (f"{what} too small ({width}x{height} px{scaled}) for face detection: faces smaller than "
                f"cropper.min_face_size={self.cropper.min_face_size} px are not looked for")  # fmt: skip

    def _stage_image(self, path: Path) -> Prediction | _Pending:
        image = read_image(path, max_pixels=self.options.max_pixels)
        too_small = self._too_small(*image.shape[:2], "image")
        if too_small:
            return self._failed(path, "image", "no_face", too_small, sampled=1)
        (faces,) = self.cropper.detect_all(image[None])
        if not faces:
            return self._failed(
                path, "image", "no_face", f"no face with score >= {self.cropper.min_score}", sampled=1
            )
        crops = [self.crop(image, face) for face in faces]
        scale, images = _media_frames(image[None]) if self.keep_media else (1.0, None)
        return _Pending(path, "image", crops, [(0, k, f) for k, f in enumerate(faces)], 1, len(faces),
                        images=images, scale=scale, indices=[0])  # fmt: skip

    def _stage_video(self, path: Path) -> Prediction | _Pending:
        opts = self.options
        check_frame_size(path, opts.max_pixels)  # before any frame is decoded
        lost = 0
        try:
            scan = self._scan(read_frame_chunks(path, num_frames=opts.num_frames, stride=opts.stride,
                                                chunk_pixels=opts.max_pixels, max_chunk=self.cropper.batch_size,
                                                rounding=opts.index_rounding))  # fmt: skip
        except UnreadableVideo:
            # the container may open with some frames, or all, that do not decode: keep those that do
            n, _ = video_timing(path)  # UnreadableVideo when the file itself does not open
            size = frame_size(path)
            too_small = self._too_small(*size, "frames") if size else None
            if too_small:  # decord fails on some tiny frame sizes; no face would be found anyway
                return self._failed(path, "video", "no_face", too_small)
            wanted = sample_indices(n, opts.num_frames, opts.stride, rounding=opts.index_rounding)
            scan = self._scan(self._chunked(iter_decodable_frames(path, wanted), size))
            lost = len(wanted) - len(scan.indices)
        indices = scan.indices
        needed = min(opts.min_frames, opts.num_frames) if opts.num_frames > 0 else opts.min_frames
        corrupt = f"{lost} of {len(indices) + lost} sampled frames do not decode" if lost else ""
        if len(indices) < needed:
            count = f"{len(indices)} decodable frame{'' if len(indices) == 1 else 's'}"
            count += f" ({corrupt})" if corrupt else ""
            reason = f"{count}, fewer than min_frames={needed}"
            return self._failed(path, "video", "too_short", reason, sampled=len(indices))
        too_small = self._too_small(*scan.shape, "frames")
        if too_small:
            return self._failed(path, "video", "no_face", too_small, sampled=len(indices))
        found = sum(len(f) for f in scan.detected)
        tracks = self._kept_tracks(track_faces(scan.detected))
        if not tracks:
            return self._failed(path, "video", "no_face", f"no face with score >= {self.cropper.min_score} in "
                                f"{len(indices)} sampled frames", sampled=len(indices))  # fmt: skip
        note = corrupt
        if self.clip_len:
            runs = {id(t): self._clip_runs(len(t.faces)) for t in tracks}
            short = [t for t in tracks if not runs[id(t)]]
            if len(short) == len(tracks):
                reason = (f"its longest face track has {len(tracks[0].faces)} of the {len(indices)} sampled frames, "
                          f"fewer than one clip of clip_len={self.clip_len} crops at clip_stride="
                          f"{self.options.clip_stride}: sample more frames, or denser (num_frames, stride)")  # fmt: skip
                return self._failed(path, "video", "too_short", reason, sampled=len(indices), faces=found)
            if short:
                left = (
                    f"{len(short)} face track{'s' if len(short) > 1 else ''} shorter than one clip not scored"
                )
                note = "; ".join(filter(None, [corrupt, left]))
            tracks = [t for t in tracks if runs[id(t)]]
        crops, faces, clips = [], [], []
        for k, track in enumerate(tracks):
            first = len(crops)
            for t, face in track.faces:
                crops.append(scan.crops[t][id(face)])
                faces.append((int(indices[t]), k, face))
            if self.clip_len:
                clips += [[first + i for i in run] for run in self._clip_runs(len(track.faces))]
        return _Pending(path, "video", crops, faces, len(indices), found, tracks, images=scan.images,
                        scale=scan.scale, indices=[int(i) for i in indices], note=note, clips=clips)  # fmt: skip

    def _clip_runs(self, n: int) -> list[list[int]]:
        """A clip model's clips of a track of ``n`` crops: positions of every ``clip_stride``-th crop,
        cut into non-overlapping runs of ``clip_len`` (the rest, shorter than one clip, left out)."""
        assert self.clip_len
        kept = list(range(0, n, int(self.options.clip_stride)))
        return [kept[i : i + self.clip_len] for i in range(0, len(kept) - self.clip_len + 1, self.clip_len)]

    def _chunked(
        self, frames: Iterable[tuple[int, np.ndarray]], size: tuple[int, int] | None
    ) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        """``(index, frame)`` pairs grouped into chunks as :func:`read_frame_chunks` groups them."""
        budget = self.options.max_pixels
        step = self.cropper.batch_size
        if budget is not None and size is not None:
            step = max(1, min(step, int(budget) // max(1, size[0] * size[1])))
        chunk: list[tuple[int, np.ndarray]] = []
        for item in frames:
            chunk.append(item)
            if len(chunk) == step:
                yield np.array([i for i, _ in chunk], np.int64), np.stack([f for _, f in chunk])
                chunk = []
        if chunk:
            yield np.array([i for i, _ in chunk], np.int64), np.stack([f for _, f in chunk])

    def _scan(self, chunks: Iterable[tuple[np.ndarray, np.ndarray]]) -> _Scan:
        """Detect and crop every face of each chunk of frames, holding one chunk at a time; frames
        too small for detection keep no faces (the caller says why)."""
        scan = _Scan()
        detect = KeyframeTracker(self.cropper)  # follows the faces from one chunk to the next
        for indices, frames in chunks:
            scan.shape = frames.shape[1:3]
            scan.indices.extend(int(i) for i in indices)
            detected = detect(frames)
            for frame, found in zip(frames, detected, strict=True):
                scan.detected.append(found)
                scan.crops.append({id(face): self.crop(frame, face) for face in found})
            if self.keep_media:
                scan.scale, images = _media_frames(frames)
                scan.images = (scan.images or []) + images
        return scan

    def _kept_tracks(self, tracks: Sequence[Track]) -> list[Track]:
        if not tracks:
            return []
        longest = len(tracks[0].faces)
        return [t for t in tracks if len(t.faces) >= self.options.min_track_share * longest]

    # -- scores to a decision --------------------------------------------------------------------
    def _finish(self, item: _Pending, scores: np.ndarray, agree: np.ndarray | None = None) -> Prediction:
        if self.clip_len:
            frames = [
                self._clip_row(item, clip, float(p)) for clip, p in zip(item.clips, scores, strict=True)
            ]
            owners = np.array([item.faces[clip[0]][1] for clip in item.clips])
        else:
            frames = [
                {"path": str(item.path), "frame_idx": idx, "track": track, "x1": face.box[0], "y1": face.box[1],
                 "x2": face.box[2], "y2": face.box[3], "face_score": face.score, "score": float(p)}
                for (idx, track, face), p in zip(item.faces, scores, strict=True)
            ]  # fmt: skip
            owners = np.array([track for _, track, _ in item.faces])
        if agree is not None:
            for frame, a in zip(frames, agree, strict=True):
                frame["agreement"] = float(a)
        if item.kind == "image":
            pick = int(np.argmax(scores))
            score, threshold, aggregation, n_tracks = (
                float(scores.max()),
                self.frame_threshold,
                "",
                len(scores),
            )
        else:
            per_track = []
            for k in range(len(item.tracks)):
                probs = torch.from_numpy(scores[owners == k].astype(np.float32))
                agg, _, _ = aggregate_video(probs, torch.zeros(len(probs)), torch.zeros(len(probs)), self.aggregation,
                                            self.confident)  # type: ignore[arg-type]  # fmt: skip
                per_track.append(float(agg[0]))
            if self.options.track_rule == "max":
                pick = int(np.argmax(per_track))
            elif self.options.track_rule == "largest":
                pick = int(np.argmax([t.mean_area for t in item.tracks]))
            else:
                pick = 0  # tracks come longest first
            score, threshold, aggregation, n_tracks = (
                per_track[pick],
                self.video_threshold,
                self.aggregation,
                len(per_track),
            )
        row = self._row(item.path, item.kind, score=score, decision="fake" if score > threshold else "real",
                        threshold=threshold, aggregation=aggregation, frames_sampled=item.frames_sampled,
                        faces_found=item.faces_found, tracks=n_tracks, status="ok", reason=item.note)  # fmt: skip
        if agree is not None and self.agreement_threshold is not None:
            if item.kind == "image":
                share = float(agree[pick])
            else:  # the deciding track's crops
                share = float(agree[np.array([track for _, track, _ in item.faces]) == pick].mean())
            row.update(agreement=share, low_agreement=int(share < self.agreement_threshold))
        return Prediction(row, frames, pick, self._media(item) if item.images is not None else None)

    @staticmethod
    def _clip_row(item: _Pending, clip: list[int], score: float) -> dict[str, Any]:
        """The per-clip row of a clip model: first and last frame, the box around the clip's faces."""
        faces = [item.faces[i] for i in clip]
        boxes = np.array([face.box for _, _, face in faces], dtype=np.float64)
        x1, y1 = boxes[:, :2].min(axis=0)
        x2, y2 = boxes[:, 2:4].max(axis=0)
        return {"path": str(item.path), "frame_idx": faces[0][0], "last_frame_idx": faces[-1][0],
                "track": faces[0][1], "x1": float(x1), "y1": float(y1), "x2": float(x2), "y2": float(y2),
                "face_score": float(np.mean([face.score for _, _, face in faces])), "score": score}  # fmt: skip

    @staticmethod
    def _media(item: _Pending) -> Media:
        assert item.images is not None
        return Media(item.images, item.indices, item.scale, item.crops)


def jpeg_round_trips(fp: dict[str, Any]) -> list[int]:
    """The JPEG qualities a training crop went through before the net saw it, in order: preprocessing's
    (``image_format`` jpg, at ``jpeg_quality``), then ``dfd.pack``'s (``jpeg q<Q> (packed from <format>)``).
    Empty for PNG crops, which are lossless."""
    image_format = str(fp.get("image_format", "png"))
    packed = re.fullmatch(r"jpeg q(\d+) \(packed from (.+)\)", image_format)
    qualities = (
        [int(fp.get("jpeg_quality") or JPEG_QUALITY)]
        if is_jpeg(packed[2] if packed else image_format)
        else []
    )
    return qualities + ([int(packed[1])] if packed else [])


def make_predictor(
    detector: Detector,
    cropper_overrides: dict[str, Any] | None = None,
    num_frames: int | None = None,
    stride: int | None = None,
    device: str = "cpu",
    keep_media: bool = False,
    **options: Any,
) -> tuple[Predictor, dict[str, tuple[Any, Any]]]:
    """A :class:`Predictor` that crops and samples as the model's training crops were made.

    ``cropper_overrides`` change single cropper settings (``None`` keeps the training one); returns the predictor and the settings
    that now differ from the training crops (``{key: (training, given)}``), for a warning.
    A model whose training crops dfd's cropper did not make needs ``margin`` and ``crop_size`` here.
    """
    fp = dict(detector.info.preprocessing or {})
    overrides = {k: v for k, v in (cropper_overrides or {}).items() if v is not None}
    cropper: FaceCropper | DlibFaceCropper
    if str(fp.get("detector", "")).startswith(DLIB_DETECTOR):  # crops of preprocess=deepfakebench
        ignored = sorted(set(overrides) - {"keyframe_every", "device"})
        if ignored:
            log.warning("cropper settings %s ignored: the model's crops were made by dlib's aligned cropper "
                        "(preprocess=deepfakebench), which dfd.predict reproduces from its record", ignored)  # fmt: skip
        cropper, overrides = DlibFaceCropper.from_record(fp), {}
    else:
        try:
            settings = cropper_settings(fp)
        except ValueError:
            if not {"margin", "crop_size"} <= set(overrides):
                raise
            settings = {}
        settings.update(overrides)
        cropper = FaceCropper(**settings, device=device)
    diff = differences(fp, {**fp, **{k: v for k, v in overrides.items()}}) if fp else {}
    sampling = {
        "num_frames": int(num_frames if num_frames is not None else fp.get("frames_per_video", 32)),
        "stride": int(stride if stride is not None else fp.get("stride", 0) or 0),
        "index_rounding": str(fp.get("index_rounding", "nearest")),
    }
    if options.get("clip_stride") is None:  # the training clips' (recorded with the crops), else 1
        options["clip_stride"] = int(fp.get("clip_stride") or 1)
    return Predictor(detector, cropper, PredictOptions(**sampling, **options), keep_media), diff
