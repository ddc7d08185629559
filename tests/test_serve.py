"""dfd.serve: a real server on 127.0.0.1, real HTTP requests (good, corrupt, not media, oversized,
malformed, concurrent, idle), and the server still serving after every bad one."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(exported_model, tmp_path_factory):
    with serving(
        exported_model,
        tmp_path_factory.mktemp("serve"),
        "max_upload_mb=1",
        "max_batch_size=4",
        "timeout_idle=2",
    ) as url:
        yield url


def _post(url: str, path: Path, name: str | None = None) -> requests.Response:
    with path.open("rb") as f:
        return requests.post(f"{url}/predict", files={"file": (name or path.name, f)}, timeout=120)


def test_scores_a_video_and_a_photo(server, ffpp_tree, tmp_path):
    from PIL import Image
    from skimage import data

    video = _post(server, ffpp_tree / "original_sequences/youtube/c23/videos/000.mp4")
    assert video.status_code == 200
    row = video.json()
    assert row["path"] == "000.mp4" and row["kind"] == "video" and row["status"] == "ok"
    assert 0 <= row["score"] <= 1 and row["decision"] in ("fake", "real") and row["faces_found"] == 4
    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.jpg")
    photo = _post(server, tmp_path / "astronaut.jpg", name="upload")  # no extension: sniffed from the bytes
    assert photo.status_code == 200 and photo.json()["kind"] == "image" and photo.json()["faces_found"] == 1


def test_bad_requests_get_4xx_with_the_reason_and_the_server_keeps_serving(server, ffpp_tree, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    data = (ffpp_tree / "original_sequences/youtube/c23/videos/001.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 5])
    (tmp_path / "big.mp4").write_bytes(b"\x00" * (2 * 1024 * 1024))
    cases = {
        "notes.txt": (415, "neither an image nor a video"),
        "cut.mp4": (422, "cannot be decoded as a video"),
    }
    for name, (status, reason) in cases.items():
        r = _post(server, tmp_path / name)
        assert r.status_code == status and reason in r.json()["detail"], (name, r.text)
    no_file = requests.post(f"{server}/predict", data={"other": "1"}, timeout=30)
    assert no_file.status_code == 400 and "field 'file'" in no_file.json()["detail"]
    assert _post(server, tmp_path / "big.mp4").status_code == 413  # above max_upload_mb=1
    assert requests.get(f"{server}/health", timeout=5).text == "ok"


def test_bad_images_are_refused_with_the_reason_naming_the_upload(server, tmp_path):
    import numpy as np
    from PIL import Image

    from dfd.data.synthetic.mini import write_video
    from tests.bad_media import bomb_png, truncated_jpeg

    cases = {  # 68 bytes claiming 30000x30000 px: refused before decoding, not a 500
        bomb_png(tmp_path / "bomb.png"): (413, "bomb.png is too large to decode"),
        truncated_jpeg(tmp_path / "cut.jpg"): (
            422,
            "cut.jpg cannot be decoded as an image (image file is truncated",
        ),
    }
    for path, (status, reason) in cases.items():
        r = _post(server, path)
        assert r.status_code == status and reason in r.json()["detail"], (path.name, r.text)
        assert "dfd-serve" not in r.text  # the server's copy of the upload is never named
    # readable, but too small to hold a face: an answer (as dfd.predict gives it), not an error
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / "dot.png")
    write_video(tmp_path / "tiny.mp4", np.full((4, 16, 16, 3), 90, np.uint8), fps=8)
    for name, reason in (
        ("dot.png", "image too small (1x1 px)"),
        ("tiny.mp4", "frames too small (16x16 px)"),
    ):
        r = _post(server, tmp_path / name)
        assert r.status_code == 200 and r.json()["status"] == "no_face", r.text
        assert r.json()["reason"].startswith(reason) and r.json()["path"] == name
    assert requests.get(f"{server}/health", timeout=5).text == "ok"


def test_a_bad_upload_does_not_fail_the_requests_batched_with_it(server, ffpp_tree, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    video = ffpp_tree / "original_sequences/youtube/c23/videos/000.mp4"
    uploads = [video, tmp_path / "notes.txt"] * 4  # max_batch_size=4: bad and good share batches
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda p: _post(server, p), uploads))
    assert [a.status_code for a in answers] == [200, 415] * 4, [a.text for a in answers]
    assert all(a.json()["path"] == "000.mp4" for a in answers[::2])


def test_concurrent_requests_are_all_answered_in_bounded_time(server, ffpp_tree):
    videos = sorted((ffpp_tree / "manipulated_sequences").rglob("*.mp4"))[:4] * 2
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda p: _post(server, p), videos))
    assert [a.status_code for a in answers] == [200] * 8
    assert [a.json()["path"] for a in answers] == [v.name for v in videos]  # each answer is its own request's
    assert time.monotonic() - start < 90


def test_sigterm_stops_the_server_and_every_process_it_started(exported_model, tmp_path):
    """A service manager stops the server with SIGTERM to its main process: nothing it started
    (LitServe's inference worker and HTTP server processes) may live on."""
    import os
    import signal

    from tests.conftest import start_server, stop_server

    proc, url = start_server(exported_model, tmp_path / "run")
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)  # anything left in the server's session?
            except ProcessLookupError:
                break
            time.sleep(0.5)
        else:
            pytest.fail("processes of the stopped server are still running")
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/health", timeout=2)
    finally:
        stop_server(proc)


def _raw(url: str, payload: bytes, timeout: float = 30) -> bytes:
    """``payload`` sent on a fresh connection; everything the server answers until it closes it
    (a socket timeout, the server holding the connection, fails the test)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(payload)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_malformed_requests_get_4xx_with_the_reason_never_500(server, tmp_path):
    """LitServe answers its own parse errors 500: each of these got ``Internal server error``."""
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, "PNG")
    png = buf.getvalue()
    form = "POST multipart/form-data with the image or video in field 'file'"
    cases = {
        "no body": (lambda: requests.post(f"{server}/predict", timeout=30), 400, "the request has no body"),
        "json body": (
            lambda: requests.post(f"{server}/predict", json={"file": "x.png"}, timeout=30),
            415,
            "Content-Type is application/json",
        ),
        "no boundary": (
            lambda: requests.post(
                f"{server}/predict", data=b"x", headers={"Content-Type": "multipart/form-data"}, timeout=30
            ),
            400,
            "no boundary",
        ),
        "garbage multipart": (
            lambda: requests.post(
                f"{server}/predict",
                data=b"garbage",
                headers={"Content-Type": "multipart/form-data; boundary=xyz"},
                timeout=30,
            ),
            400,
            "malformed multipart/form-data",
        ),
        "5000-character name": (
            lambda: requests.post(
                f"{server}/predict", files={"file": ("a" * 5000 + ".png", png)}, timeout=30
            ),
            400,
            "Maximum header size exceeded",
        ),
        "300-character name": (
            lambda: requests.post(f"{server}/predict", files={"file": ("a" * 296 + ".png", png)}, timeout=30),
            400,
            "the file name is 300 bytes long",
        ),
        "1001 file parts": (
            lambda: requests.post(f"{server}/predict", files=[("file", ("a.png", png))] * 1001, timeout=30),
            400,
            "Too many files. Maximum number of files is 1",
        ),
    }
    for name, (send, status, reason) in cases.items():
        r = send()
        assert r.status_code == status and reason in r.json()["detail"], (name, r.status_code, r.text[:300])
        if status == 400 and name != "300-character name":
            assert form in r.json()["detail"], name
    # chunked transfer, broken inside a part's headers
    body = b"--xyz\r\nContent-Disp\x00garbage\r\n\r\n\x01\x02"
    raw = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: multipart/form-data; boundary=xyz\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(body):x}".encode()
        + b"\r\n"
        + body
        + b"\r\n0\r\n\r\n"
    )
    answer = _raw(server, raw)
    assert answer.startswith(b"HTTP/1.1 400") and b"malformed multipart/form-data" in answer, answer[:300]
    ok = requests.post(f"{server}/predict", files={"file": ("dot.png", png)}, timeout=60)
    assert ok.status_code == 200 and ok.json()["status"] == "no_face"  # and the server keeps serving


def test_idle_and_half_open_connections_are_closed(server):
    """timeout_idle=2: a connection that sends nothing, or stops inside its headers or its body,
    is closed (uvicorn alone held each of these open for ever); a kept-alive one after a response."""
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\n"
    stalled_body = head + (
        b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n"
    )
    for payload in (b"", head, stalled_body):
        assert b"200 OK" not in _raw(server, payload), payload  # closed, not answered
    answer = _raw(server, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive: closed after 5 s
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok")


def test_info_and_docs_are_off_unless_expose_info(server):
    for path in ("/info", "/docs", "/redoc", "/openapi.json"):
        assert requests.get(f"{server}{path}", timeout=5).status_code == 404, path


def test_expose_info_and_the_uploads_folder_removed_on_sigterm(exported_model, tmp_path, monkeypatch):
    """expose_info=true brings /info and /docs back; the uploads folder (in TMPDIR) goes with the
    server on SIGTERM (each SIGTERM left an empty ``dfd-serve-*`` folder behind)."""
    import shutil
    import signal
    import tempfile

    from tests.conftest import start_server, stop_server

    # a short TMPDIR: the worker sockets live in it, and pytest's tmp_path can be too long for them
    tmp = Path(tempfile.mkdtemp(prefix="dfd-t", dir="/tmp"))
    monkeypatch.setenv("TMPDIR", str(tmp))
    try:
        proc, url = start_server(exported_model, tmp_path / "run", "expose_info=true")
        try:
            assert requests.get(f"{url}/info", timeout=5).json()["server"]["max_payload_size"] > 0
            assert requests.get(f"{url}/docs", timeout=5).status_code == 200
            assert len(list(tmp.glob("dfd-serve-*"))) == 1  # the uploads folder, while serving
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            stop_server(proc)
        assert list(tmp.glob("dfd-serve-*")) == []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_tmpdir_too_long_for_the_worker_sockets_is_refused_before_starting(monkeypatch, tmp_path):
    """Under a TMPDIR of 76 bytes multiprocessing failed with ``AF_UNIX path too long`` and a bare
    EOFError after the model had loaded; now one line names TMPDIR and the fix."""
    import tempfile

    from dfd.core.errors import DfdError
    from dfd.inference.server import check_tmpdir

    long_dir = tmp_path / ("x" * max(1, 80 - len(str(tmp_path))))
    long_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long_dir))
    with pytest.raises(DfdError, match=r"TMPDIR=.* bytes long.*TMPDIR=/tmp"):
        check_tmpdir()
    monkeypatch.setattr(tempfile, "tempdir", "/tmp")
    check_tmpdir()


def test_each_worker_scores_with_one_intra_op_thread_by_default(exported_model, tmp_path):
    """torch's default (a thread per core in each worker) made 8 concurrent clients wait 11 s at
    p95 on 2 cores (docs/performance.md): a worker sets ``threads``, 1 unless configured."""
    import torch

    from dfd.inference.server import DetectorAPI
    from tests.conftest import compose_config

    assert compose_config("serve", [f"ckpt_path={exported_model}"]).threads == 1
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        api = DetectorAPI(str(exported_model), uploads=str(tmp_path / "uploads"), threads=1)
        api.setup("cpu")
        assert torch.get_num_threads() == 1
        assert api.uploads == tmp_path / "uploads" and api.uploads.is_dir()
        api.teardown()
        assert api.uploads.is_dir()  # the main process's folder: it removes it, not a worker
    finally:
        torch.set_num_threads(before)


def test_media_above_the_pixel_budget_get_413_before_decoding(server, tmp_path):
    from tests.bad_media import flat_png, flat_video

    cases = {  # kilobytes that would decode to hundreds of MB: refused from their header
        flat_video(
            tmp_path / "wide.mp4", 8192, 4320, frames=1
        ): "wide.mp4 is too large to decode: 8192x4320 px",
        flat_png(tmp_path / "big.png", 9400, 9400): "big.png is too large to decode: 9400x9400 px",
        flat_video(
            tmp_path / "square.mp4", 4096, 4096, frames=1
        ): "square.mp4 is too large to decode: 4096x4096",
    }
    for path, reason in cases.items():
        r = _post(server, path)
        assert r.status_code == 413 and reason in r.json()["detail"], (path.name, r.text)
        assert "above max_pixels=12582912" in r.json()["detail"]
    # a 4K video is within the budget: decoded and answered; its black frames hold no face
    uhd = _post(server, flat_video(tmp_path / "uhd.mp4", 3840, 2160, frames=4))
    assert uhd.status_code == 200 and uhd.json()["status"] == "no_face", uhd.text
    assert requests.get(f"{server}/health", timeout=5).text == "ok"
