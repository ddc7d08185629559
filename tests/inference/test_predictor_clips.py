"""A clip model scoring raw videos: each face track's crops cut into clips of T, one score per clip,
the track's clip scores aggregated and the track rule deciding; tracks too short for one clip and
photos say so in their row."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dfd.data.synthetic.mini.media import VideoSpec
from dfd.data.synthetic.mini.trees import Mini
from dfd.inference.detector import ModelInfo, TorchDetector
from dfd.inference.predictor import CLIP_COLUMNS, make_predictor
from tests.inference.test_predictor_bad_inputs import FINGERPRINT
from tests.tiny_detector import tiny_clip_net

#: The training crops of the clip model: dfd's cropper, all 8 frames of the mini videos.
DENSE = {**FINGERPRINT, "frames_per_video": 8}


@pytest.fixture(scope="module")
def detector() -> TorchDetector:
    net = tiny_clip_net()
    return TorchDetector(net, ModelInfo(net.input_spec, preprocessing=DENSE, name="tiny clip", clip_len=4))


@pytest.fixture(scope="module")
def staged(detector, tmp_path_factory):
    """A mini face video (one person, 8 frames) and its detected, cropped and tracked faces."""
    root = tmp_path_factory.mktemp("clips")
    video = Mini(root, VideoSpec(192, 144, 8, 8)).real(root / "a.mp4", 0, seed=0)
    predictor = make_predictor(detector)[0]
    return video, predictor, predictor._stage_video(video)


def test_a_video_is_scored_from_its_tracks_clips(detector, staged) -> None:
    video, predictor, item = staged
    assert predictor.options.num_frames == 8 and len(item.crops) == 8 and len(item.tracks) == 1
    assert item.clips == [[0, 1, 2, 3], [4, 5, 6, 7]]  # non-overlapping runs of T consecutive crops
    prediction = predictor._finish(
        item, detector.score_clips([[item.crops[i] for i in c] for c in item.clips])
    )
    assert prediction == predictor.predict(video)  # staged and scored in one go: the same
    row, clips = prediction.row, prediction.frames
    assert (row["status"], row["tracks"], row["faces_found"], row["frames_sampled"]) == ("ok", 1, 8, 8)
    assert predictor.frame_columns == CLIP_COLUMNS and [list(c) for c in clips] == [list(CLIP_COLUMNS)] * 2
    assert [(c["frame_idx"], c["last_frame_idx"], c["track"]) for c in clips] == [(0, 3, 0), (4, 7, 0)]
    boxes = np.array([face.box for _, _, face in item.faces[:4]])
    assert clips[0]["x1"] == pytest.approx(boxes[:, 0].min()) and clips[0]["y2"] == pytest.approx(
        boxes[:, 3].max()
    )
    scores = [c["score"] for c in clips]
    assert scores[0] != scores[1]  # two clips, two scores
    assert row["score"] == pytest.approx(np.mean(scores), abs=1e-6) and row["aggregation"] == "mean"
    assert make_predictor(detector, aggregation="max")[0]._finish(item, np.array(scores)).row["score"] == max(
        scores
    )


def test_clip_stride_takes_every_nth_crop_and_a_track_shorter_than_a_clip_is_too_short(
    detector, staged
) -> None:
    _, _, item = staged
    strided = make_predictor(detector, clip_stride=2)[0]
    assert strided._clip_runs(len(item.crops)) == [[0, 2, 4, 6]]
    sparse = make_predictor(detector, clip_stride=3, keep_media=False)[0]
    assert sparse._clip_runs(8) == []  # crops 0, 3 and 6: fewer than T = 4


def test_a_track_too_short_for_one_clip_and_a_photo_get_rows_that_say_so(detector, staged, tmp_path) -> None:
    video, _, _ = staged
    few = make_predictor(detector, num_frames=3, min_frames=1)[0]
    row = few.predict(video).row
    assert (row["status"], row["frames_sampled"], row["faces_found"]) == ("too_short", 3, 3)
    assert row["reason"].startswith(
        "its longest face track has 3 of the 3 sampled frames, fewer than one clip of clip_len=4 crops"
    )
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "photo.png")
    photo = few.predict(tmp_path / "photo.png").row
    assert (photo["status"], photo["kind"]) == ("unsupported", "image") and np.isnan(photo["score"])
    assert "tiny clip scores clips of 4 consecutive face crops of a video" in photo["reason"]


@pytest.mark.slow
def test_dfd_predict_scores_videos_with_an_exported_clip_model_and_skips_its_pictures(
    detector, staged, tmp_path, caplog
) -> None:
    import pandas as pd

    from dfd.inference.export import export_model
    from dfd.inference.tasks import predict
    from tests.conftest import compose_config
    from tests.tiny_detector import TEMPORAL_HEAD, TINY_CLIP

    video, predictor, _ = staged
    folder = export_model(detector.net, {"target": TEMPORAL_HEAD, "kwargs": TINY_CLIP}, tmp_path / "model",
                          preprocessing=DENSE, name="tiny clip")  # fmt: skip
    out = tmp_path / "out" / "predictions.csv"
    cfg = compose_config("predict", [f"ckpt_path={folder}", f"input={video}", f"output={out}", "per_frame=true",
                                     "visualize=true", "device=cpu", f"paths.output_dir={tmp_path}"])  # fmt: skip
    expected = predictor.predict(video).row  # eager torch
    with caplog.at_level("WARNING"):
        assert predict(cfg) == {expected["decision"]: 1}
    assert "visualize=true skipped: tiny clip scores clips" in caplog.text
    assert not (tmp_path / "explanations").exists()
    row = pd.read_csv(out).iloc[0]
    clips = pd.read_csv(out.with_name("predictions_frames.csv"))
    assert list(clips.columns) == list(CLIP_COLUMNS) and clips["frame_idx"].tolist() == [0, 4]
    assert row["score"] == pytest.approx(expected["score"], abs=1e-4)  # ONNX Runtime's are eager torch's
