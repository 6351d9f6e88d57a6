"""What the fake model servers share (tests/fake_anthropic.py, tests/fake_openai.py).

- :class:`ThreadServer`: a threaded HTTP/1.1 server on 127.0.0.1, a free port, one daemon thread;
  ``start``/``stop``, or ``with``. Clients that hang up (a killed agent) are not errors.
- :class:`EventStream`: one Server-Sent Events answer as the real APIs send it: status, headers,
  then ``event:``/``data:`` frames in chunked transfer encoding, ended by the last chunk. With
  ``cut_after=N`` the connection is dropped after N events, without the last chunk: what a client
  sees when the network or the server dies mid-answer.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up (a killed agent)
            super().handle_error(request, client_address)


class ThreadServer:
    """``handler`` served on 127.0.0.1 (port 0: a free one) by a daemon thread named ``name``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self.handler = handler
        self.name = name
        self._server: QuietServer | None = None

    def start(self) -> None:
        self._server = QuietServer(("127.0.0.1", 0), self.handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name=self.name, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake server is not started"
        return int(self._server.server_address[1])


def request_id() -> str:
    return f"req_fake_{time.monotonic_ns():x}"


def send_json(
    handler: BaseHTTPRequestHandler, status: int, body: Any, headers: Mapping[str, str] = {}, *, head: bool = False
) -> None:
    """A whole JSON answer with its content-length (``head``: the headers only, as for HEAD)."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    if not head:
        handler.wfile.write(data)


class EventStream:
    """One ``text/event-stream`` answer; :meth:`send` returns False once the stream was cut."""

    def __init__(
        self,
        handler: BaseHTTPRequestHandler,
        headers: Mapping[str, str] = {},
        *,
        cut_after: int | None = None,
        on_cut: Callable[[], None] | None = None,
    ) -> None:
        self.handler = handler
        self.sent = 0
        self.cut_after = cut_after
        self.on_cut = on_cut
        """Called before the connection drops (so the record is there when the client sees it)."""
        self.cut = False
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream; charset=utf-8")
        handler.send_header("cache-control", "no-cache")
        handler.send_header("transfer-encoding", "chunked")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()

    def send(self, event: str | None, data: Mapping[str, Any]) -> bool:
        if self.cut:
            return False
        if self.cut_after is not None and self.sent >= self.cut_after:
            self._drop()
            return False
        frame = (f"event: {event}\n" if event else "") + f"data: {json.dumps(data, separators=(',', ':'))}\n\n"
        self._chunk(frame.encode())
        self.sent += 1
        return True

    def end(self) -> None:
        """The last chunk (unless cut): the answer is complete."""
        if not self.cut:
            self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.handler.wfile.flush()

    def _drop(self) -> None:
        self.cut = True
        if self.on_cut is not None:
            self.on_cut()
        self.hang_up(self.handler)

    @staticmethod
    def hang_up(handler: BaseHTTPRequestHandler) -> None:
        """Close the connection now, whatever was sent on it."""
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.wfile.flush()
            handler.connection.shutdown(socket.SHUT_RDWR)
