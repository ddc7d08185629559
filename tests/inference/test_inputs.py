"""What dfd.predict input= may name: files, folders, globs and .txt lists."""

from __future__ import annotations

from dfd.inference.inputs import expand_inputs, kind_of


def test_folders_globs_and_lists(tmp_path):
    for rel in ("a/x.mp4", "a/y.JPG", "a/b/z.png", "a/notes.md", "c.avi"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    assert expand_inputs(tmp_path / "a") == [
        tmp_path / "a/b/z.png",
        tmp_path / "a/x.mp4",
        tmp_path / "a/y.JPG",
    ]
    assert expand_inputs(str(tmp_path / "a" / "*.mp4")) == [tmp_path / "a/x.mp4"]
    assert expand_inputs(str(tmp_path / "**" / "*.png")) == [tmp_path / "a/b/z.png"]
    (tmp_path / "list.txt").write_text(
        "# two videos\nc.avi\n\n" + str(tmp_path / "a/x.mp4") + "\nmissing.mp4\n"
    )
    assert expand_inputs(tmp_path / "list.txt") == [
        tmp_path / "c.avi",
        tmp_path / "a/x.mp4",
        tmp_path / "missing.mp4",
    ]
    assert expand_inputs(tmp_path / "nowhere.mp4") == [tmp_path / "nowhere.mp4"]  # its row will say so
    assert [kind_of(p) for p in ("v.MOV", "i.webp", "n.md")] == ["video", "image", "unsupported"]


def test_images_decode_whole_and_bad_ones_say_why(tmp_path):
    import numpy as np
    import pytest
    from PIL import Image

    from dfd.inference.inputs import NotAnImage, OversizedImage, UnreadableImage, read_image
    from tests.bad_media import bomb_png, grey16_png, truncated_jpeg

    grey = np.arange(64 * 48, dtype=np.uint32).reshape(48, 64) % 256
    Image.fromarray(grey.astype(np.uint8)).save(tmp_path / "grey8.png")
    sixteen = read_image(grey16_png(tmp_path / "grey16.png", grey))
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")  # really 16 bits per sample
    assert sixteen.dtype == np.uint8 and sixteen.shape == (48, 64, 3)
    assert np.array_equal(sixteen, read_image(tmp_path / "grey8.png"))  # the high byte, not clipped to 255
    with pytest.raises(OversizedImage, match="bomb.png is too large to decode"):
        read_image(bomb_png(tmp_path / "bomb.png"))
    large = bomb_png(tmp_path / "large.png", side=10000)  # above MAX_IMAGE_PIXELS, below twice it
    with pytest.raises(OversizedImage):
        read_image(large, strict=True)
    with pytest.raises(
        UnreadableImage, match=r"cut.jpg cannot be decoded as an image \(image file is truncated"
    ):
        read_image(truncated_jpeg(tmp_path / "cut.jpg"))
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(NotAnImage, match="text.png is not an image"):
        read_image(tmp_path / "text.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(NotAnImage, match=r"empty.jpg is empty \(0 bytes\)"):
        read_image(tmp_path / "empty.jpg")


def test_images_above_the_pixel_budget_are_refused_from_their_header(tmp_path, monkeypatch):
    import pytest
    from PIL import ImageFile

    from dfd.inference.inputs import MAX_PIXELS, OversizedImage, read_image
    from tests.bad_media import flat_png

    big = flat_png(tmp_path / "big.png", 9400, 9400)  # 10.8 KB on disk, 265 MB as RGB
    assert big.stat().st_size < 20_000

    def no_decoding(self):
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(OversizedImage, match=r"big.png is too large to decode: 9400x9400 px \(88.4 MP\), "
                       r"above max_pixels=12582912 \(12.6 MP\)"):  # fmt: skip
        read_image(big, max_pixels=MAX_PIXELS)
    with pytest.raises(OversizedImage, match="max_pixels=1000 "):
        read_image(big, strict=True, max_pixels=1000)  # the server's path


def test_a_jpeg_above_the_budget_decodes_reduced_and_other_formats_are_refused(tmp_path):
    import numpy as np
    import pytest
    from PIL import Image

    from dfd.inference.inputs import OversizedImage, read_image

    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(picture).save(tmp_path / "p.jpg", quality=95)
    Image.fromarray(picture).save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.jpg", max_pixels=400 * 300).shape == (300, 400, 3)  # within: whole
    assert read_image(tmp_path / "p.png", max_pixels=400 * 300).shape == (300, 400, 3)
    # 1/2 scale (200x150 = 30000 px) is above 10000 px: libjpeg decodes at 1/4 scale
    assert read_image(tmp_path / "p.jpg", max_pixels=100 * 100).shape == (75, 100, 3)
    assert read_image(tmp_path / "p.jpg", max_pixels=200 * 150).shape == (150, 200, 3)
    with pytest.raises(OversizedImage, match=r"p.png is too large to decode: 400x300 px"):
        read_image(tmp_path / "p.png", max_pixels=200 * 150)
    with pytest.raises(OversizedImage, match=r"p.jpg is too large to decode: 400x300 px"):
        read_image(tmp_path / "p.jpg", max_pixels=10)  # even 1/8 scale (50x38 px) is above it
