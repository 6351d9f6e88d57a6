"""``mayor dashboard``: a web page of one repository's run, served from the same disk as ``mayor status``.

The stack is the standard library's :class:`http.server.ThreadingHTTPServer` and one static page
(``static/dashboard.html``: HTML, CSS and plain JavaScript, no build step). A page for one person on
127.0.0.1 needs no framework, and no dependency means nothing more to install or keep up to date.
One thread serves each request; the event stream holds its thread for as long as the page is open.

Routes (all ``GET`` but the actions)::

    /, /bead/<id>                      the page (the bead page is the same page, routed in the browser)
    /api/status                        the JSON of ``mayor status --json``
    /api/overview                      the summary's facts, the status, the last event's seq, the gate
    /api/beads/<id>                    the bead, each attempt with its feedback and log paths
    /api/beads/<id>/log?kind=&attempt=&offset=   a log from byte ``offset`` (its tail on the first read)
    /api/beads/<id>/diff               its diff against the target (text)
    /api/events?since=SEQ              server-sent events: one event record per message, live
    POST /api/beads/<id>/<action>      approve, reject, cancel, retry (only with ``actions``)

Safety: bound to 127.0.0.1 unless told otherwise; every request must name this server in its
``Host`` header (no DNS rebinding); an action must also carry the server's random token in
``X-Mayor-Token`` (given only to the page this server serves) and come from this origin (``Origin``
and ``Sec-Fetch-Site`` when the browser sends them) with a JSON body (so a cross-site form cannot).

Threads: :class:`Dashboard` is read-only once started (repository, token, flags) except its
``stopping`` event; every request reads the disk afresh, so handler threads share no other state.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from beads.errors import MayorError, NotFound
from supervisor.events import EventLog
from supervisor.views.dashboard_api import BadRequest, number

if TYPE_CHECKING:
    from supervisor.repo import Repo

POLL_S = 0.2
"""How often the event stream looks for new lines (the issue asks for under a second)."""
KEEPALIVE_S = 10.0
ACTIONS = ("approve", "reject", "cancel", "retry")
BEAD_API = re.compile(r"^/api/beads/(?P<id>[A-Za-z0-9][A-Za-z0-9._-]{0,63})(?:/(?P<what>[a-z]+))?$")
TOKEN_HEADER = "X-Mayor-Token"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Refused(Exception):
    """A request this server will not answer: its status and why."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class Dashboard:
    """One server for one repository: owns the HTTP server, the token and the stop signal."""

    def __init__(self, repo: Repo, host: str = "127.0.0.1", port: int = 0, actions: bool = False) -> None:
        self.repo = repo
        self.actions = actions
        self.token = secrets.token_urlsafe(24)
        self.stopping = threading.Event()
        self.server = (_Server6 if ":" in host else ThreadingHTTPServer)((host, port), Handler)
        self.server.daemon_threads = True
        self.server.dashboard = self  # type: ignore[attr-defined]
        self.host, self.port = host, self.server.server_address[1]
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def accepts(self, host_header: str) -> bool:
        """Whether a request's ``Host`` names this server. Bound to every address (``0.0.0.0``),
        any name may reach it, so any is accepted (the command warns of that binding)."""
        if self.host in ("", "0.0.0.0", "::"):
            return True
        named = f"[{self.host}]" if ":" in self.host else self.host
        names = {named, "127.0.0.1", "localhost", "[::1]"} if self.host in LOOPBACK else {named}
        return host_header in {f"{name}:{self.port}" for name in names}

    def serve_forever(self) -> None:
        try:
            self.server.serve_forever(poll_interval=0.2)
        finally:
            self.stopping.set()
            self.server.server_close()

    def __enter__(self) -> Dashboard:
        self.thread = threading.Thread(target=self.serve_forever, name="dashboard", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        if self.thread is not None:
            self.thread.join()


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class Handler(BaseHTTPRequestHandler):
    server_version = "mayor-dashboard"
    protocol_version = "HTTP/1.1"

    @property
    def dash(self) -> Dashboard:
        return self.server.dashboard  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal shows the URL only
        pass

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_POST(self) -> None:
        self._answer(self._post)

    def _answer(self, route: Any) -> None:
        try:
            self._check_host()
            route(urlsplit(self.path))
        except Refused as exc:
            self._send_json({"error": str(exc)}, exc.status)
        except BadRequest as exc:
            self._send_json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)
        except NotFound as exc:
            self._send_json({"error": str(exc)}, HTTPStatus.NOT_FOUND)
        except MayorError as exc:
            self._send_json({"error": str(exc)}, HTTPStatus.CONFLICT)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # a bug: say so to the page, keep serving the others
            self._send_json({"error": f"unexpected error: {exc!r}"}, HTTPStatus.INTERNAL_SERVER_ERROR)

    def _check_host(self) -> None:
        if not self.dash.accepts(self.headers.get("Host", "")):
            raise Refused(HTTPStatus.MISDIRECTED_REQUEST, "this dashboard answers only requests addressed to it")

    # -- reading -----------------------------------------------------------------------------------
    def _get(self, url: Any) -> None:
        from supervisor.views import dashboard_api as api

        path = url.path
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if path == "/" or path.startswith("/bead/"):
            self._send(page(self.dash), "text/html; charset=utf-8")
        elif path == "/favicon.ico":
            self._send("", "image/x-icon", HTTPStatus.NO_CONTENT)
        elif path == "/api/status":
            self._send_json(api.status(self.dash.repo))
        elif path == "/api/overview":
            self._send_json(api.overview(self.dash.repo, actions=self.dash.actions))
        elif path == "/api/events":
            resumed = {"since": self.headers.get("Last-Event-ID") or ""}
            self._stream(number(query, "since") or number(resumed, "since") or 0)
        elif match := BEAD_API.match(path):
            self._bead(match["id"], match["what"], query)
        else:
            raise Refused(HTTPStatus.NOT_FOUND, f"no such page: {path}")

    def _bead(self, bead_id: str, what: str | None, query: dict[str, str]) -> None:
        from supervisor.views import dashboard_api as api

        repo = self.dash.repo
        if what is None:
            self._send_json(api.bead(repo, bead_id))
        elif what == "log":
            self._send_json(api.log(repo, bead_id, query))
        elif what == "diff":
            self._send(api.diff(repo, bead_id), "text/plain; charset=utf-8")
        else:
            raise Refused(HTTPStatus.NOT_FOUND, f"no such page: {self.path}")

    def _stream(self, since: int) -> None:
        """Server-sent events: every event with a ``seq`` above ``since``, then each new one."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        log, offset, quiet = EventLog(self.dash.repo.events_path), 0, 0.0
        self.wfile.write(b"retry: 1000\n\n")
        self.wfile.flush()
        while not self.dash.stopping.is_set():
            if log.path.exists() and log.path.stat().st_size < offset:  # the log was cut: read it anew
                offset, since = 0, 0
            events, offset = log.iter_from(offset)
            fresh = [e for e in events if int(e.get("seq") or 0) > since]
            for event in fresh:
                line = json.dumps(event, default=str)
                self.wfile.write(f"id: {event.get('seq')}\nevent: event\ndata: {line}\n\n".encode())
            since = max([since, *(int(e.get("seq") or 0) for e in fresh)])
            quiet = 0.0 if fresh else quiet + POLL_S
            if quiet >= KEEPALIVE_S:  # a comment: finds a closed page, keeps proxies from timing out
                self.wfile.write(b": keepalive\n\n")
                quiet = 0.0
            self.wfile.flush()
            self.dash.stopping.wait(POLL_S)

    # -- acting ------------------------------------------------------------------------------------
    def _post(self, url: Any) -> None:
        from supervisor.views import dashboard_api as api

        match = BEAD_API.match(url.path)
        if match is None or match["what"] not in ACTIONS:
            raise Refused(HTTPStatus.NOT_FOUND, f"no such action: {url.path}")
        self._check_action()
        body = self._body()
        result = api.act(self.dash.repo, match["id"], match["what"], str(body.get("note") or ""))
        self._send_json(result)

    def _check_action(self) -> None:
        if not self.dash.actions:
            raise Refused(HTTPStatus.FORBIDDEN, "this dashboard is read-only; start it with --actions to act")
        origin = self.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != self.headers.get("Host"):
            raise Refused(HTTPStatus.FORBIDDEN, f"cross-site request refused (Origin {origin})")
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            raise Refused(HTTPStatus.FORBIDDEN, "cross-site request refused (Sec-Fetch-Site)")
        if not hmac.compare_digest(self.headers.get(TOKEN_HEADER, ""), self.dash.token):
            raise Refused(HTTPStatus.FORBIDDEN, f"missing or wrong {TOKEN_HEADER}: reload the page")
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the action as application/json")

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 64 * 1024:
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the body is too long")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise Refused(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise Refused(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return body

    # -- sending -----------------------------------------------------------------------------------
    def _send(self, text: str, kind: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, data: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(json.dumps(data, default=str), "application/json", status)


CSP = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"


def page(dash: Dashboard) -> str:
    """The page, with this server's token (only when actions are on) and the repository's name."""
    html = resources.files("supervisor.views").joinpath("static/dashboard.html").read_text()
    config = {"token": dash.token if dash.actions else None, "actions": dash.actions, "repo": Path(dash.repo.root).name}
    return html.replace("/*MAYOR_CONFIG*/null", json.dumps(config).replace("<", "\\u003c"))
