"""A Telegram Bot API double served over real HTTP on 127.0.0.1.

python-telegram-bot is pointed at it with
``Bot(token, base_url=double.base_url, base_file_url=double.base_file_url)``.
It speaks the wire format of https://core.telegram.org/bots/api: POSTs to
``/bot{token}/{method}`` with parameters in the query string, a form-urlencoded,
JSON or multipart body; answers ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": ..., "description": ..., "parameters": ...}``.

Tests push updates in (:meth:`TelegramDouble.push_update`), register files for
getFile, read what the bot sent (:meth:`TelegramDouble.calls_of`) and make the
next calls of a method fail (:meth:`TelegramDouble.fail_next`).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from .ports import free_port

__all__ = [
    "TEST_TOKEN",
    "ApiCall",
    "FailureKind",
    "TelegramDouble",
    "UploadedFile",
    "running_double",
]

TEST_TOKEN = "123456:TEST-token"

FailureKind = Literal["flood", "blocked", "chat_not_found", "bad_request", "server_error", "drop"]

BOT_USER: dict[str, Any] = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Tanya PTSP",
    "username": "TanyaPTSPBot",
}


@dataclass(frozen=True, slots=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ApiCall:
    method: str
    params: dict[str, str]
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def json(self, name: str) -> Any:
        """A parameter that the client JSON-encoded (reply_markup, allowed_updates)."""
        return json.loads(self.params[name])


@dataclass(slots=True)
class _Failure:
    kind: FailureKind
    remaining: int
    retry_after: int
    description: str | None


@dataclass(slots=True)
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    # What getFile reports; None mimics files Telegram will not serve (> 20 MB).
    reported_size: int | None


class TelegramDouble:
    """State of the fake Bot API plus the HTTP server that exposes it."""

    def __init__(self, token: str = TEST_TOKEN, *, max_poll_wait: float = 1.0) -> None:
        self.token = token
        # Long polls never hang longer than this, whatever timeout the client asks for,
        # so a test that forgets to stop a poller still ends quickly.
        self.max_poll_wait = max_poll_wait
        self.calls: list[ApiCall] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 100_000
        self._next_message_id = 1
        self._files: dict[str, _StoredFile] = {}
        self._failures: dict[str, _Failure] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> TelegramDouble:
        self.port = free_port()
        server = _QuietServer(("127.0.0.1", self.port), _make_handler(self))
        # Joined on close so that no handler thread outlives the test.
        server.daemon_threads = False
        server.block_on_close = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
        self._thread = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- what tests drive ------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update; one without ``update_id`` gets the next one."""
        with self._cond:
            if "update_id" not in update:
                update = {"update_id": self._next_update_id, **update}
            self._next_update_id = max(self._next_update_id, int(update["update_id"])) + 1
            self._updates.append(update)
            self._cond.notify_all()
            return int(update["update_id"])

    def push_raw(self, update_id: int, raw: Any) -> None:
        """Queue anything at all as an update (junk the client must survive)."""
        with self._cond:
            self._updates.append({"__raw__": raw, "update_id": update_id})
            self._next_update_id = max(self._next_update_id, update_id) + 1
            self._cond.notify_all()

    def add_file(
        self,
        file_id: str,
        data: bytes,
        *,
        file_path: str | None = None,
        reported_size: int | None = -1,
    ) -> None:
        path = file_path or f"documents/{file_id}.bin"
        size = len(data) if reported_size == -1 else reported_size
        with self._cond:
            self._files[file_id] = _StoredFile(file_id, f"u-{file_id}", path, data, size)

    def fail_next(
        self,
        method: str,
        count: int = 1,
        kind: FailureKind = "flood",
        *,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        with self._cond:
            self._failures[method] = _Failure(kind, count, retry_after, description)

    def calls_of(self, method: str) -> list[ApiCall]:
        with self._cond:
            return [call for call in self.calls if call.method == method]

    def pending_update_ids(self) -> list[int]:
        with self._cond:
            return [int(u["update_id"]) for u in self._updates]

    # -- the API ---------------------------------------------------------------

    def _take_failure(self, method: str) -> _Failure | None:
        with self._cond:
            failure = self._failures.get(method)
            if failure is None or failure.remaining <= 0:
                return None
            failure.remaining -= 1
            return failure

    def _record(self, call: ApiCall) -> None:
        with self._cond:
            self.calls.append(call)

    def handle(self, method: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if method == "getMe":
            return _ok(BOT_USER)
        if method == "deleteWebhook":
            self.webhook_url = None
            if params.get("drop_pending_updates") in ("true", "True", "1"):
                with self._cond:
                    self._updates.clear()
            return _ok(True)
        if method == "setWebhook":
            self.webhook_url = params.get("url")
            self.webhook_secret = params.get("secret_token")
            return _ok(True)
        if method == "getUpdates":
            return _ok(self._get_updates(params))
        if method in ("sendMessage", "sendDocument", "sendPhoto"):
            return _ok(self._message_for(method, params))
        if method == "answerCallbackQuery":
            return _ok(True)
        if method == "editMessageReplyMarkup":
            return _ok(True)
        if method == "getFile":
            stored = self._files.get(params.get("file_id", ""))
            if stored is None:
                return _error(400, "Bad Request: invalid file_id")
            if stored.reported_size is None:
                return _error(400, "Bad Request: file is too big")
            return _ok(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": stored.reported_size,
                    "file_path": stored.file_path,
                }
            )
        return _error(404, "Not Found: method not found")

    def _get_updates(self, params: dict[str, str]) -> list[Any]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), self.max_poll_wait)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        with self._cond:
            # As Telegram does: asking with an offset confirms every earlier update.
            if offset:
                self._updates = [u for u in self._updates if int(u["update_id"]) >= offset]
            while not self._updates and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = self._updates[:limit]
        return [u.get("__raw__", u) for u in batch]

    def _message_for(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        with self._cond:
            message_id = self._next_message_id
            self._next_message_id += 1
        chat_id = params.get("chat_id", "0")
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "from": BOT_USER,
            "chat": {
                "id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id,
                "type": "private",
            },
        }
        if "text" in params:
            message["text"] = params["text"]
        if "caption" in params:
            message["caption"] = params["caption"]
        if "reply_markup" in params:
            message["reply_markup"] = json.loads(params["reply_markup"])
        if method == "sendPhoto":
            message["photo"] = [
                {
                    "file_id": f"p{message_id}",
                    "file_unique_id": f"pu{message_id}",
                    "width": 90,
                    "height": 90,
                }
            ]
        if method == "sendDocument":
            message["document"] = {"file_id": f"d{message_id}", "file_unique_id": f"du{message_id}"}
        return message

    def download(self, file_path: str) -> bytes | None:
        with self._cond:
            for stored in self._files.values():
                if stored.file_path == file_path:
                    return stored.data
        return None


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up mid-response (a cancelled long poll) is normal.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _ok(result: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"ok": True, "result": result}


def _error(code: int, description: str, **parameters: Any) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return code, body


def _failure_response(failure: _Failure) -> tuple[int, dict[str, Any]]:
    if failure.kind == "flood":
        return _error(
            429,
            failure.description or f"Too Many Requests: retry after {failure.retry_after}",
            retry_after=failure.retry_after,
        )
    if failure.kind == "blocked":
        return _error(403, failure.description or "Forbidden: bot was blocked by the user")
    if failure.kind == "chat_not_found":
        return _error(400, failure.description or "Bad Request: chat not found")
    if failure.kind == "bad_request":
        return _error(400, failure.description or "Bad Request: message text is empty")
    return _error(500, failure.description or "Internal Server Error")


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    params: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    if not body:
        return params, files
    if content_type.startswith("application/json"):
        decoded = json.loads(body)
        for key, value in decoded.items():
            params[key] = value if isinstance(value, str) else json.dumps(value)
    elif content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            payload = part.get_payload(decode=True)
            payload = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            if filename is not None:
                files[name] = UploadedFile(filename, part.get_content_type(), payload)
            else:
                params[name] = payload.decode("utf-8")
    else:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params, files


def _make_handler(double: TelegramDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # One request per connection: nothing lingers when the server closes.
        protocol_version = "HTTP/1.0"
        timeout = 10

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._dispatch(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._dispatch(self.rfile.read(length) if length else b"")

        def _dispatch(self, body: bytes) -> None:
            url = urlsplit(self.path)
            path = unquote(url.path)
            file_prefix = f"/file/bot{double.token}/"
            if path.startswith(file_prefix):
                data = double.download(path[len(file_prefix) :])
                if data is None:
                    self._send_json(*_error(404, "Not Found"))
                else:
                    self._send(200, "application/octet-stream", data)
                return
            api_prefix = f"/bot{double.token}/"
            if not path.startswith(api_prefix):
                self._send_json(*_error(404, "Not Found"))
                return
            method = path[len(api_prefix) :]
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            body_params, files = _parse_body(self.headers.get("Content-Type") or "", body)
            params.update(body_params)
            double._record(ApiCall(method, params, files))
            failure = double._take_failure(method)
            if failure is not None and failure.kind == "drop":
                # Close without a byte of response: the client sees a dropped connection.
                self.close_connection = True
                self.connection.close()
                return
            if failure is not None:
                self._send_json(*_failure_response(failure))
                return
            self._send_json(*double.handle(method, params))

        def _send_json(self, code: int, payload: dict[str, Any]) -> None:
            self._send(code, "application/json", json.dumps(payload).encode())

        def _send(self, code: int, content_type: str, data: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def running_double(token: str = TEST_TOKEN) -> Iterator[TelegramDouble]:
    double = TelegramDouble(token).start()
    try:
        yield double
    finally:
        double.stop()
