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
