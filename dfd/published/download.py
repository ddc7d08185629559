"""Fetching a catalogue entry's file into a cache, with its checksum checked (``dfd.weights get``).

Hugging Face Hub entries go through ``huggingface_hub.hf_hub_download`` at the pinned revision (its
own cache, resumption and offline mode). Any other URL takes :func:`download`: one HTTP(S) GET
that writes ``<file>.part`` beside the target and, when the connection drops, asks for the rest
with a ``Range`` request (up to ``retries`` times in one call, and again on the next call), then
renames the finished file into place. A web page where a file was expected (Google Drive's
confirmation page, a login wall) is refused rather than saved.

The file's sha256 is compared with the entry's: a mismatch is refused and the file moved aside to
``<file>.rejected``; an entry without a known digest (``sha256: unknown``) is refused unless
``allow_unverified``, and either way the computed digest is printed so it can be recorded.
Offline (no route to the host, or ``HF_HUB_OFFLINE=1`` for the Hub) fails at once, naming the URL
and where to put the file by hand.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from dfd.core.digest import file_sha256
from dfd.core.errors import DfdError
from dfd.published.catalogue import UNKNOWN, Entry

#: seconds to wait for a server to answer (connect and each read): offline fails fast
TIMEOUT = 20
CHUNK = 1 << 20


class DownloadError(DfdError, OSError):
    """The file could not be fetched (offline, refused, or not the file), with what to do instead."""


class ChecksumError(DfdError, ValueError):
    """A fetched file's sha256 is not the catalogue's, or the catalogue has none to compare with."""


def default_cache() -> Path:
    """``$DFD_CACHE/weights``, else ``$XDG_CACHE_HOME/dfd/weights``, else ``~/.cache/dfd/weights``."""
    if os.environ.get("DFD_CACHE"):
        return Path(os.environ["DFD_CACHE"]).expanduser() / "weights"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "dfd" / "weights"


def manual_path(entry: Entry, cache_dir: Path) -> Path:
    """Where a file fetched by hand goes for ``get`` to find it."""
    return cache_dir / entry.name / entry.file


def _progress(total: int | None, initial: int, name: str):  # -> tqdm
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=name, leave=False
    )


def download(
    url: str,
    dest: Path,
    retries: int = 3,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> Path:
    """Fetch ``url`` to ``dest`` (resuming ``dest.part`` with a ``Range`` request); return ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last: BaseException | None = None
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"User-Agent": "dfd-weights"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                kind = response.headers.get("Content-Type", "")
                if kind.startswith("text/html"):
                    raise DownloadError(
                        f"{url} sent a web page, not the file (a confirmation or login page): open it in a "
                        f"browser, download the file and put it at {dest}"
                    )
                resumed = have and response.status == 206
                if have and not resumed:
                    have = 0  # the server ignored the Range: start over
                length = response.headers.get("Content-Length")
                total = have + int(length) if length is not None else None
                bar = _progress(total, have, dest.name) if progress else None
                with part.open("ab" if resumed else "wb") as out:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                if bar is not None:
                    bar.close()
                if total is not None and part.stat().st_size < total:
                    raise ConnectionError(f"the connection closed at {part.stat().st_size} of {total} bytes")
            os.replace(part, dest)
            return dest
        except DownloadError:
            raise
        except urllib.error.HTTPError as err:
            if err.code == 416 and have:  # the part is already whole
                os.replace(part, dest)
                return dest
            raise DownloadError(
                f"{url}: HTTP {err.code} {err.reason}: put the file at {dest} by hand"
            ) from None
        except urllib.error.URLError as err:
            if not part.exists():  # nothing fetched yet: no route, no such host, refused
                raise DownloadError(
                    f"cannot reach {url} ({err.reason}): offline? Download it elsewhere and put it at {dest}"
                ) from None
            last = err
        except (ConnectionError, TimeoutError, OSError) as err:
            last = err
        if attempt < retries:
            got = part.stat().st_size if part.exists() else 0
            say(f"download of {dest.name} interrupted at {got} bytes ({last}); resuming")
    got = part.stat().st_size if part.exists() else 0
    raise DownloadError(
        f"{url}: interrupted at {got} bytes after {retries + 1} attempts ({last}); run the same command "
        f"again to resume from {part}, or put the file at {dest} by hand"
    )


def fetch_hub(entry: Entry, cache_dir: Path, say: Callable[[str], None] = print) -> Path:
    """An ``hf:`` entry through ``huggingface_hub`` (pinned revision, its cache and resumption). An
    entry without a pinned revision takes ``main``, and the commit it resolved to is printed."""
    assert entry.hf is not None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    pinned = entry.hf["revision"] != UNKNOWN
    try:
        path = Path(
            hf_hub_download(
                entry.hf["repo_id"], entry.hf["filename"], revision=entry.hf["revision"] if pinned else "main",
                cache_dir=str(cache_dir / "hub"),
            )
        )  # fmt: skip
        if not pinned and "snapshots" in path.parts:
            commit = path.parts[path.parts.index("snapshots") + 1]
            say(
                f"{entry.name}: the Hub's main is commit {commit} (record it as hf.revision in conf/weights/{entry.name}.yaml)"
            )
        return path
    except LocalEntryNotFoundError:
        raise DownloadError(
            f"{entry.location} is not cached and the Hub is unreachable (offline, or HF_HUB_OFFLINE=1): "
            f"download it elsewhere and put it at {manual_path(entry, cache_dir)}"
        ) from None


def verify(
    entry: Entry,
    path: Path,
    allow_unverified: bool,
    say: Callable[[str], None] = print,
    set_aside: bool = True,
) -> str:
    """Check ``path`` against ``entry.sha256``; return the digest. A mismatching file is moved to
    ``<file>.rejected`` when ``set_aside`` (files in dfd's cache, not the Hub's). See the module docstring."""
    digest = file_sha256(path)
    if entry.verified:
        if digest != entry.sha256:
            where = ""
            if set_aside:
                rejected = path.with_name(path.name + ".rejected")
                shutil.move(str(path), rejected)
                where = f" (moved to {rejected})"
            raise ChecksumError(
                f"{entry.name}: the file's sha256 is {digest}, not the catalogue's {entry.sha256}: refused"
                f"{where}; download it again, or check conf/weights/{entry.name}.yaml"
            )
        return digest
    if entry.sha256 != UNKNOWN and digest != entry.sha256:
        raise ChecksumError(
            f"{entry.name}: the file's sha256 is {digest}, not the catalogue's {entry.sha256}: refused"
        )
    say(
        f"{entry.name}: sha256 {digest} (the catalogue pins none: record it in conf/weights/{entry.name}.yaml)"
    )
    if not allow_unverified:
        raise ChecksumError(
            f"{entry.name} is not pinned in the catalogue (sha256 or hf.revision unknown), so this file cannot be "
            f"verified (its sha256 is {digest}): check it against the source, then rerun with allow_unverified=true"
        )
    return digest


def fetch(
    entry: Entry,
    cache_dir: str | Path | None = None,
    allow_unverified: bool = False,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> Path:
    """The entry's file in the cache (fetched if absent, or found where the user put it), verified."""
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache()
    target = manual_path(entry, cache)
    if target.is_file():
        path = target
    elif entry.hf:
        path = fetch_hub(entry, cache, say)
    else:
        path = download(str(entry.url), target, progress=progress, say=say)
    if entry.size is not None and path.stat().st_size != entry.size:
        say(f"{entry.name}: {path.stat().st_size} bytes, the catalogue says {entry.size}")
    verify(entry, path, allow_unverified, say, set_aside=path == target)
    return path
