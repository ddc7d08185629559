"""Fetching catalogue entries: a loopback HTTP server stands in for the release host (resume after a
dropped connection, checksum refusal, unknown digests, web pages instead of files, offline)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dfd.published.catalogue import Entry
from dfd.published.download import ChecksumError, DownloadError, download, fetch

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class Host:
    """What the server does and saw: drops the first ``drops`` responses after ``cut`` bytes."""

    def __init__(self) -> None:
        self.drops = 0
        self.cut = 300_000
        self.ranges: list[str | None] = []
        self.html = False
        self.honour_range = True


@pytest.fixture
def server() -> Iterator[tuple[str, Host]]:
    host = Host()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            rng = self.headers.get("Range")
            host.ranges.append(rng)
            if host.html:
                body = b"<html>Google Drive can't scan this file for viruses</html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            start = int(rng.split("=")[1].rstrip("-")) if rng and host.honour_range else 0
            body = PAYLOAD[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
            self.end_headers()
            if host.drops > 0:
                host.drops -= 1
                self.wfile.write(body[: host.cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=lambda: httpd.serve_forever(poll_interval=0.02), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/weights.pth", host
    httpd.shutdown()
    httpd.server_close()


def entry(url: str, sha256: str | None = None) -> Entry:
    return Entry(
        name="toy", source="sbi", title="toy", file="weights.pth", licence="MIT", paper="p", trained_on="t",
        sha256=sha256 or hashlib.sha256(PAYLOAD).hexdigest(), size=len(PAYLOAD), url=url,
    )  # fmt: skip


def test_a_dropped_connection_is_resumed_with_a_range_request(server, tmp_path: Path) -> None:
    url, host = server
    host.drops = 1
    said: list[str] = []
    path = fetch(entry(url), tmp_path, progress=False, say=said.append)
    assert path.read_bytes() == PAYLOAD
    assert host.ranges == [None, f"bytes={host.cut}-"]  # the second request asked only for the rest
    assert any("resuming" in s for s in said)
    assert not path.with_name(path.name + ".part").exists()


def test_an_interrupted_download_resumes_on_the_next_call(server, tmp_path: Path) -> None:
    url, host = server
    host.drops = 2
    dest = tmp_path / "w.pth"
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        download(url, dest, retries=1, progress=False, say=lambda s: None)
    part = dest.with_name("w.pth.part")
    assert part.stat().st_size == 2 * host.cut
    download(url, dest, progress=False, say=lambda s: None)
    assert dest.read_bytes() == PAYLOAD
    assert host.ranges[-1] == f"bytes={2 * host.cut}-"


def test_a_server_that_ignores_range_starts_over(server, tmp_path: Path) -> None:
    url, host = server
    host.drops, host.honour_range = 1, False
    path = fetch(entry(url), tmp_path, progress=False, say=lambda s: None)
    assert path.read_bytes() == PAYLOAD


def test_a_checksum_mismatch_is_refused_and_the_file_set_aside(server, tmp_path: Path) -> None:
    url, _ = server
    with pytest.raises(ChecksumError, match="not the catalogue's"):
        fetch(entry(url, sha256="0" * 64), tmp_path, progress=False, say=lambda s: None)
    assert not (tmp_path / "toy" / "weights.pth").exists()
    assert (tmp_path / "toy" / "weights.pth.rejected").read_bytes() == PAYLOAD


def test_an_unknown_digest_is_refused_unless_allowed_and_printed_either_way(server, tmp_path: Path) -> None:
    url, host = server
    unknown = entry(url, sha256="unknown")
    said: list[str] = []
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    with pytest.raises(ChecksumError, match="allow_unverified=true"):
        fetch(unknown, tmp_path, progress=False, say=said.append)
    assert any(digest in s for s in said)
    path = fetch(unknown, tmp_path, allow_unverified=True, progress=False, say=said.append)
    assert path.read_bytes() == PAYLOAD
    assert len(host.ranges) == 1  # the second call used the cached file


def test_a_web_page_is_not_saved_as_weights(server, tmp_path: Path) -> None:
    url, host = server
    host.html = True
    with pytest.raises(DownloadError, match="web page"):
        fetch(entry(url), tmp_path, progress=False, say=lambda s: None)
    assert not (tmp_path / "toy" / "weights.pth").exists()


def test_offline_fails_at_once_naming_the_url_and_where_to_put_the_file(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/weights.pth"  # the discard port: nothing listens
    with pytest.raises(DownloadError) as err:
        fetch(entry(url), tmp_path, progress=False, say=lambda s: None)
    assert url in str(err.value) and str(tmp_path / "toy" / "weights.pth") in str(err.value)


def test_a_file_put_by_hand_is_used_and_verified(tmp_path: Path) -> None:
    placed = tmp_path / "toy" / "weights.pth"
    placed.parent.mkdir()
    placed.write_bytes(PAYLOAD)
    assert fetch(entry("http://127.0.0.1:9/x"), tmp_path, progress=False) == placed


def test_hub_entries_fail_fast_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = replace(entry("unused"), url=None, hf={"repo_id": "someone/model", "filename": "model.safetensors",
                                                 "revision": "0" * 40})  # fmt: skip
    with pytest.raises(DownloadError, match="not cached and the Hub is unreachable"):
        fetch(hub, tmp_path, progress=False)
