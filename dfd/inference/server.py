"""An HTTP server for an exported detector, on LitServe (Lightning's serving library).

``POST /predict`` takes one image or short video as a multipart upload (field ``file``) and
answers with the JSON of a ``dfd.predict`` row (score, decision, threshold, frames, faces,
status, reason); ``GET /health`` answers ``ok``. Requests that arrive together are scored
together: LitServe batches up to ``max_batch_size`` of them, and their face crops go through
the net in one batch (:meth:`Predictor.predict_many`).

Every upload is checked on arrival (an image is decoded whole), and a refusal is that request's
answer alone, never its batch's: a request without ``file`` gets 400, a file that is neither an
image nor a video 415, an image or a video whose header claims more pixels than ``max_pixels``
(the budget ``dfd.predict`` shares) or PIL's decompression-bomb limit 413, read from the header
before any pixel is decoded, one that cannot be decoded 422, and LitServe refuses uploads above ``max_upload_mb``
with 413. An input the predictor finds unreadable gets 422 too. A readable input without a
scorable face (``no_face``, also for images too small to hold one) or a video with too few
decodable frames (``too_short``) is an answer (200), not an error. Reasons name the uploaded
file, never the server's copy of it. The server keeps serving.

A malformed request is answered 4xx with the reason too, before it reaches a worker: no body
(400), a body that is not ``multipart/form-data`` (415; a url-encoded form without ``file``
400), a multipart body without a boundary, broken, with more than one file or too many fields
(400), and a file name longer than :data:`MAX_NAME_BYTES` (400). A connection that sends nothing
for ``timeout_idle`` seconds while a request is incomplete (an idle or half-open one) is closed,
as is a kept-alive one after ``timeout_keep_alive`` seconds. Uploads wait in one ``dfd-serve-*``
folder of the system temp directory, made and removed by the main process (on Ctrl-C and SIGTERM
too). ``/info`` (the server's configuration), ``/docs``, ``/redoc`` and ``/openapi.json`` are
404 unless ``expose_info=true``.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import litserve as ls
from fastapi import HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from litserve.server import RegularRequestHandler
from python_multipart.multipart import parse_options_header
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from dfd.core.errors import DfdError
from dfd.inference.detector import Detector
from dfd.inference.export import load_exported
from dfd.inference.inputs import NotAnImage, OversizedImage, UnreadableImage, kind_of, read_image
from dfd.inference.predictor import make_predictor
from dfd.raw.video import OversizedVideo, UnreadableVideo, check_frame_size, video_timing

#: How to call the server, the reason of every refusal of the request's form.
FORM = "POST multipart/form-data with the image or video in field 'file'"
#: Longest upload file name accepted (bytes of UTF-8; a file system's name limit).
MAX_NAME_BYTES = 255
#: Text fields accepted beside the file (each at most ``MAX_FIELD_BYTES``).
MAX_FIELDS, MAX_FIELD_BYTES = 16, 64 * 1024


def sniff(data: bytes, filename: str, max_pixels: int | None = None) -> str:
    """``image`` or ``video`` by content (the filename's extension can lie or be missing).

    An image is decoded whole here. Raises 415 for neither, 413 for an image above ``max_pixels``
    or PIL's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``), 422 for one that does not decode.
    """
    try:
        read_image(io.BytesIO(data), filename, strict=True, max_pixels=max_pixels)
        return "image"
    except OversizedImage as err:
        raise HTTPException(status_code=413, detail=str(err)) from None
    except NotAnImage:
        pass
    except UnreadableImage as err:
        raise HTTPException(status_code=422, detail=str(err)) from None
    # ISO media (mp4, mov), Matroska/WebM and AVI signatures
    if data[4:8] == b"ftyp" or data[:4] in (b"\x1aE\xdf\xa3", b"RIFF"):
        return "video"
    guess = kind_of(filename)
    if guess == "video":
        return "video"
    raise HTTPException(status_code=415, detail=f"{filename or 'the upload'} is neither an image nor a video")


class DetectorAPI(ls.LitAPI):
    """Loads the exported model in each worker; decodes, batches and scores uploads."""

    def __init__(self, model_dir: str, backend: str = "onnx", options: dict[str, Any] | None = None,
                 max_batch_size: int = 8, batch_timeout: float = 0.05,
                 loader: Callable[..., Detector] = load_exported, uploads: str | None = None,
                 threads: int | None = None) -> None:  # fmt: skip
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout)
        self.model_dir, self.backend, self.options = model_dir, backend, dict(options or {})
        self.loader, self.upload_dir, self.threads = loader, uploads, threads

    def setup(self, device: str) -> None:
        if self.threads:  # torch's default (every core, in every worker) oversubscribes the CPU
            import torch

            torch.set_num_threads(self.threads)
        options = dict(self.options)
        if options.get("device", "auto") == "auto":
            options["device"] = device  # LitServe's pick for this worker
        detector = self.loader(self.model_dir, self.backend, device=options["device"])
        self.predictor, _ = make_predictor(
            detector, options.pop("cropper", None), options.pop("num_frames", None), options.pop("stride", None),
            **options,
        )  # fmt: skip
        if self.upload_dir:  # made by the main process, which removes it however the server stops
            self.uploads = Path(self.upload_dir)
            self.uploads.mkdir(parents=True, exist_ok=True)
        else:
            self.uploads = Path(tempfile.mkdtemp(prefix="dfd-serve-"))

    # ``request`` unannotated: LitServe then passes the form
    def decode_request(self, request, **kwargs: Any) -> tuple[str, str] | HTTPException:
        """The upload saved to a temporary file, ``(path, name)``; or the refusal answering it
        (returned, not raised: LitServe would give a raised one to every request of the batch)."""
        try:
            return self._save(request)
        except HTTPException as refusal:
            return refusal

    def _save(self, request: Any) -> tuple[str, str]:
        upload = request.get("file") if hasattr(request, "get") else None
        if upload is None or not hasattr(upload, "file"):
            raise HTTPException(
                status_code=400, detail="POST multipart/form-data with the image or video in field 'file'"
            )
        data = upload.file.read()
        name = Path(upload.filename or "upload").name
        if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise HTTPException(
                status_code=400,
                detail=f"the file name is {len(name.encode('utf-8', 'surrogateescape'))} bytes long "
                f"({name[:40]}...); at most {MAX_NAME_BYTES} are accepted: rename the file",
            )
        if not data:
            raise HTTPException(status_code=422, detail=f"{name} is empty (0 bytes)")
        max_pixels = self.predictor.options.max_pixels
        kind = sniff(data, name, max_pixels)
        suffix = (
            Path(name).suffix.lower() if kind_of(name) == kind else (".png" if kind == "image" else ".mp4")
        )
        handle, tmp = tempfile.mkstemp(dir=self.uploads, suffix=suffix)
        os.close(handle)  # one descriptor per request would run the worker out of them
        path = Path(tmp)
        path.write_bytes(data)
        if kind == "video":
            try:
                check_frame_size(path, max_pixels, name)  # from the header, before any frame is decoded
                video_timing(path)
            except OversizedVideo as err:
                path.unlink(missing_ok=True)
                raise HTTPException(status_code=413, detail=str(err)) from None
            except UnreadableVideo as err:
                path.unlink(missing_ok=True)
                detail = str(err).replace(str(path), name)
                raise HTTPException(
                    status_code=422, detail=f"{name} cannot be decoded as a video: {detail}"
                ) from None
        return str(path), name

    def batch(self, inputs: list[Any]) -> list[Any]:
        return inputs

    def unbatch(self, output: list[Any]) -> list[Any]:
        return output

    def predict(self, x: Any, **kwargs: Any) -> Any:
        single = not isinstance(x, list)
        items = [x] if single else x
        uploads = [item for item in items if not isinstance(item, HTTPException)]
        try:
            predictions = iter(self.predictor.predict_many([path for path, _ in uploads]))
        finally:
            for path, _ in uploads:
                Path(path).unlink(missing_ok=True)
        out = [
            item if isinstance(item, HTTPException) else self._answer(item, next(predictions))
            for item in items
        ]
        return out[0] if single else out

    @staticmethod
    def _answer(upload: tuple[str, str], prediction: Any) -> dict[str, Any] | HTTPException:
        """The row of one upload, named as the client named it; a refusal when it was unreadable."""
        path, name = upload
        row = {**prediction.row, "path": name, "reason": str(prediction.row["reason"]).replace(path, name)}
        if row["status"] in ("unreadable", "too_large"):
            return HTTPException(
                status_code=422 if row["status"] == "unreadable" else 413, detail=row["reason"]
            )
        return row

    def encode_response(self, output: dict[str, Any] | HTTPException, **kwargs: Any) -> dict[str, Any]:
        if isinstance(output, HTTPException):  # FastAPI sends a Response as it is: this request's refusal
            return JSONResponse({"detail": output.detail}, status_code=output.status_code)  # type: ignore[return-value]
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in output.items()}

    def teardown(self) -> None:  # LitServe calls it when a worker stops (not every version does)
        if not self.upload_dir:
            shutil.rmtree(getattr(self, "uploads", ""), ignore_errors=True)


class UploadHandler(RegularRequestHandler):
    """LitServe's handler of ``POST /predict``, with the form read under limits: a malformed
    request is answered 4xx with the reason here (LitServe answers its parse errors 500)."""

    async def _prepare_request(self, request: Any, request_type: Any) -> Any:
        header = request.headers.get("content-type", "")
        content_type, params = parse_options_header(header)
        has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
        if not has_body:
            raise HTTPException(status_code=400, detail=f"the request has no body: {FORM}")
        if content_type not in (b"multipart/form-data", b"application/x-www-form-urlencoded"):
            raise HTTPException(status_code=415, detail=f"Content-Type is {header or 'missing'}: {FORM}")
        if content_type == b"multipart/form-data" and not params.get(b"boundary"):
            raise HTTPException(
                status_code=400, detail=f"the multipart body has no boundary in its Content-Type: {FORM}"
            )
        try:
            return await request.form(max_files=1, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
        except HTTPException:  # LitServe's 413 for a body above max_upload_mb
            raise
        except StarletteHTTPException as err:  # the form parser's 400, which LitServe turns into a 500
            parse_error = err.__context__  # starlette's MultiPartException, from python-multipart's reason
            cause = parse_error.__cause__ if parse_error is not None else None
            reason = f"{err.detail} ({cause})" if cause else err.detail
            raise HTTPException(
                status_code=400, detail=f"malformed multipart/form-data: {reason}: {FORM}"
            ) from None
        except ClientDisconnect:
            raise HTTPException(
                status_code=400, detail="the client closed the connection before the body ended"
            ) from None


def idle_timeout_protocol(timeout_idle: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, closing a connection that sends nothing for ``timeout_idle`` s
    while a request is incomplete (uvicorn times out only kept-alive connections, after a response:
    one that connects and sends nothing, or part of a request, would be held for ever)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:  # uvicorn's "auto" falls back to h11 alike
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base

    class IdleTimeoutProtocol(Base):
        _idle_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm_idle()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._arm_idle()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            super().connection_lost(exc)

        def _arm_idle(self) -> None:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            self._idle_timer = self.loop.call_later(timeout_idle, self._idle)

        def _idle(self) -> None:
            self._idle_timer = None
            if self.transport.is_closing():
                return
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete and not cycle.more_body:
                return  # the request is in and being answered; then the keep-alive timeout applies
            if self.flow.read_paused:  # the server is slow to read the body, not the client to send it
                self._arm_idle()
                return
            self.transport.close()

    return IdleTimeoutProtocol


# the server's processes talk over Unix sockets at <TMPDIR>/pymp-XXXXXXXX/listener-XXXXXXXX, and a
# socket path holds at most 107 bytes on Linux
SOCKET_PATH_MAX = 107
SOCKET_NAME_LEN = len("/pymp-XXXXXXXX/listener-XXXXXXXX")


def check_tmpdir() -> None:
    """Refuse a TMPDIR too long for the worker sockets, before the server starts (multiprocessing
    failed later with ``OSError: AF_UNIX path too long`` and a bare ``EOFError``)."""
    tmp = tempfile.gettempdir()
    longest = SOCKET_PATH_MAX - SOCKET_NAME_LEN
    if len(os.fsencode(tmp)) > longest:
        raise DfdError(
            f"TMPDIR={tmp} is {len(os.fsencode(tmp))} bytes long; the server's worker sockets need a "
            f"TMPDIR of at most {longest} bytes: start it with TMPDIR=/tmp (or another short folder)"
        )


def serve(
    model_dir: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    backend: str = "onnx",
    options: dict[str, Any] | None = None,
    max_batch_size: int = 8,
    batch_timeout: float = 0.05,
    max_upload_mb: float = 50,
    timeout: float = 120,
    loader: Callable[..., Detector] = load_exported,
    expose_info: bool = False,
    timeout_keep_alive: float = 5,
    timeout_idle: float = 15,
    workers: int = 1,
    threads: int | None = 1,
) -> None:
    """Run the server until it is stopped (Ctrl-C or SIGTERM). ``loader(model_dir, backend, device=)``
    loads the model in each worker (``dfd.serve`` passes one that also reads exported ensembles).
    ``workers`` inference processes per device score requests side by side, each with ``threads``
    intra-op threads (None: torch's default, every core)."""
    check_tmpdir()
    loader(
        model_dir, backend, device="cpu"
    )  # fail here, before the workers start, on a bad or tampered folder
    device = (options or {}).get("device", "auto")
    accelerator = "auto" if device == "auto" else ("cuda" if str(device).startswith("cuda") else "cpu")
    # LitServe shuts its workers down on Ctrl-C; a service manager's SIGTERM would kill this process
    # alone and leave them running: take SIGTERM as Ctrl-C
    main_pid = os.getpid()

    def interrupt(signum: int, frame: Any) -> None:
        if os.getpid() == main_pid:
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker: stop as it would have
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, interrupt)
    uploads = None
    try:
        uploads = tempfile.mkdtemp(prefix="dfd-serve-")  # removed below, however the server stops
        api = DetectorAPI(
            model_dir, backend, options, max_batch_size, batch_timeout, loader, uploads, threads
        )
        server = ls.LitServer(
            api, accelerator=accelerator, timeout=timeout, max_payload_size=int(max_upload_mb * 1024 * 1024),
            workers_per_device=workers, disable_openapi_url=not expose_info,
        )  # fmt: skip
        _strict_routes(server, api, expose_info)
        server.run(
            host=host, port=port, generate_client_file=False, timeout_keep_alive=timeout_keep_alive,
            http=idle_timeout_protocol(timeout_idle),
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGTERM, previous)
        if uploads is not None:
            shutil.rmtree(uploads, ignore_errors=True)


def _strict_routes(server: ls.LitServer, api: DetectorAPI, expose_info: bool) -> None:
    """``POST /predict`` through :class:`UploadHandler`; ``/info`` gone unless ``expose_info``."""
    routes = server.app.router.routes
    (predict,) = [r for r in routes if isinstance(r, APIRoute) and r.path == api.api_path]
    routes[:] = [
        r
        for r in routes
        if r is not predict and (expose_info or getattr(r, "path", None) != server.info_path)
    ]
    handler = UploadHandler(api, server)

    async def endpoint(request: Request) -> Response:  # module-level names: FastAPI resolves them
        return await handler.handle_request(request, Request)

    server.app.add_api_route(api.api_path, endpoint, methods=["POST"], dependencies=predict.dependencies)
