"""Frame sampling: evenly spaced or strided, from a start frame on."""

from __future__ import annotations

from dfd.raw.video import sample_indices


def test_sample_indices_even_and_stride():
    assert sample_indices(100, 5).tolist() == [0, 25, 50, 74, 99]
    assert sample_indices(10, 32).tolist() == list(range(10))
    assert sample_indices(100, 4, stride=10).tolist() == [0, 10, 20, 30]
    assert sample_indices(25, 0, stride=10).tolist() == [0, 10, 20]


def test_floor_rounding_is_deepfakebenchs_truncated_linspace():
    import numpy as np
    import pytest

    assert sample_indices(100, 5, rounding="floor").tolist() == [0, 24, 49, 74, 99]  # nearest: 25, 50, 74
    for n in (
        20,
        33,
        40,
        300,
    ):  # all frames up to 32; above, 15 of 32 differ from nearest (unless 31 | n - 1)
        expected = np.unique(np.linspace(0, n - 1, 32, endpoint=True, dtype=int)).tolist()
        assert sample_indices(n, 32, rounding="floor").tolist() == expected
    with pytest.raises(ValueError, match="preprocess.index_rounding"):
        sample_indices(100, 5, rounding="round")


def test_frames_above_the_pixel_budget_are_refused_from_the_header(tmp_path, monkeypatch):
    import pytest

    from dfd.raw.video import OversizedVideo, check_frame_size, frame_size
    from tests.bad_media import flat_video

    video = flat_video(tmp_path / "wide.mp4", 8192, 4320, frames=1)  # 105 KB, 106 MB per RGB frame
    assert video.stat().st_size < 200_000 and frame_size(video) == (4320, 8192)
    with pytest.raises(OversizedVideo, match=r"upload.mp4 is too large to decode: 8192x4320 px frames "
                       r"\(35.4 MP\), above max_pixels=12582912"):  # fmt: skip
        check_frame_size(video, 4096 * 3072, name="upload.mp4")
    check_frame_size(video, 8192 * 4320)  # at the budget: accepted
    check_frame_size(video, None)  # no budget


def test_frames_decode_in_chunks_within_a_pixel_budget(tmp_path):
    import numpy as np

    from dfd.data.synthetic.mini import write_video
    from dfd.raw.video import read_frame_chunks, read_frames

    rng = np.random.default_rng(0)
    video = write_video(tmp_path / "v.mp4", rng.integers(0, 256, (8, 48, 64, 3), dtype=np.uint8), fps=8)
    indices, frames = read_frames(video, num_frames=8)
    chunks = list(read_frame_chunks(video, num_frames=8, chunk_pixels=3 * 48 * 64))
    assert [len(i) for i, _ in chunks] == [3, 3, 2]  # at most 3 frames' pixels held at once
    assert np.array_equal(np.concatenate([i for i, _ in chunks]), indices)
    assert np.array_equal(np.concatenate([f for _, f in chunks]), frames)  # the same frames
    one_by_one = list(read_frame_chunks(video, num_frames=8, chunk_pixels=1, max_chunk=4))
    assert [len(i) for i, _ in one_by_one] == [1] * 8  # decoded by decord's single-frame read
    assert np.array_equal(np.concatenate([f for _, f in one_by_one]), frames)
    assert [len(i) for i, _ in read_frame_chunks(video, num_frames=8, max_chunk=5)] == [5, 3]


def test_a_video_whose_name_is_not_utf8_decodes(tmp_path):
    import os

    import numpy as np

    from dfd.data.synthetic.mini import write_video
    from dfd.raw.video import read_frames, video_timing

    rng = np.random.default_rng(0)
    plain = write_video(tmp_path / "v.mp4", rng.integers(0, 256, (4, 48, 64, 3), dtype=np.uint8), fps=8)
    odd = tmp_path / os.fsdecode(b"clip\xff\xfe.mp4")  # Latin-1 bytes, as old cameras name files
    os.link(plain, odd)
    assert video_timing(odd)[0] == 4
    assert np.array_equal(read_frames(odd, num_frames=4)[1], read_frames(plain, num_frames=4)[1])
