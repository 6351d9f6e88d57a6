"""A fake GitHub REST API on 127.0.0.1, for the real ``gh`` CLI.

``gh`` talks plain HTTP to the host ``github.localhost`` (``http://api.github.localhost/``, as it does
for a local GitHub development server), so the test sets ``GH_HOST=github.localhost`` and points
``HTTP_PROXY`` at this server: each request arrives with its absolute URL. :meth:`FakeGitHub.env`
gives those variables. What GitHub does that matters here is modelled: the token names a user
(``GET /user``; refused with 403 for a workflow token, as GitHub does for ``GITHUB_TOKEN``),
issue comments are paginated with ``Link`` headers, a comment may only be edited by its author
(403 otherwise), and a body over 65,536 characters is refused with 422.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOST = "github.localhost"
API = f"http://api.{HOST}"
BODY_LIMIT = 65_536
ACTIONS_BOT = "github-actions[bot]"


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    token: str | None


@dataclass
class FakeGitHub:
    """The state of the fake: who each token is, the comments of each issue, every call."""

    users: dict[str, str] = field(default_factory=lambda: {"mayor-token": "mayor-bot"})
    """token -> login; a token absent here acts as the Actions workflow token (``github-actions[bot]``,
    refused on ``GET /user``)."""
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    per_page: int = 2
    """Small, so that a few comments already take several pages."""
    next_id: int = 100
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> FakeGitHub:
        fake = self

        class Handler(_Handler):
            github = fake

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def env(self, token: str = "mayor-token") -> dict[str, str]:
        """What makes the real ``gh`` talk to this server with ``token``."""
        proxy = f"http://127.0.0.1:{self.server.server_address[1]}"
        return {
            "GH_HOST": HOST,
            "GH_TOKEN": token,
            "HTTP_PROXY": proxy,
            "http_proxy": proxy,
            "NO_PROXY": "",
            "no_proxy": "",
            "GH_PROMPT_DISABLED": "1",
            "GH_NO_UPDATE_NOTIFIER": "1",
        }

    def add(self, repo: str, issue: int, login: str, body: str) -> dict[str, Any]:
        with self.lock:
            comment = {
                "id": self.next_id,
                "body": body,
                "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
                "html_url": f"https://github.com/{repo}/pull/{issue}#issuecomment-{self.next_id}",
            }
            self.next_id += 1
            self.comments.setdefault((repo, issue), []).append(comment)
            return comment

    def find(self, comment_id: int) -> dict[str, Any] | None:
        for comments in self.comments.values():
            for comment in comments:
                if comment["id"] == comment_id:
                    return comment
        return None

    def login(self, token: str | None) -> str:
        return self.users.get(token or "", ACTIONS_BOT)

    def writes(self) -> list[Call]:
        """The calls that change a comment (GraphQL reads aside)."""
        return [c for c in self.calls if c.method in ("POST", "PATCH") and c.path != "/graphql"]


ISSUE_COMMENTS = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
ONE_COMMENT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")


class _Handler(BaseHTTPRequestHandler):
    github: FakeGitHub

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        auth = self.headers.get("Authorization") or ""
        token = auth.split(" ", 1)[1] if " " in auth else None
        call = Call(method, url.path, parse_qs(url.query), body, token)
        self.github.calls.append(call)
        status, data, headers = self._route(call)
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _route(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        gh = self.github
        if call.token is None:
            return 401, {"message": "Requires authentication"}, {}
        if call.method == "GET" and call.path == "/user":
            if call.token not in gh.users:
                return 403, {"message": "Resource not accessible by integration"}, {}
            return 200, {"login": gh.login(call.token), "type": "User"}, {}
        if call.method == "POST" and call.path == "/graphql":
            return 200, self._graphql(call.body or {}), {}
        match = ISSUE_COMMENTS.match(call.path)
        if match and call.method == "GET":
            return self._page(gh.comments.get((match[1], int(match[2])), []), call)
        if match and call.method == "POST":
            if len(call.body["body"]) > BODY_LIMIT:
                return 422, {"message": "Validation Failed", "errors": [{"message": "body is too long"}]}, {}
            return 201, gh.add(match[1], int(match[2]), gh.login(call.token), call.body["body"]), {}
        match = ONE_COMMENT.match(call.path)
        if match and call.method == "PATCH":
            comment = gh.find(int(match[2]))
            if comment is None:
                return 404, {"message": "Not Found"}, {}
            if comment["user"]["login"] != gh.login(call.token):
                return 403, {"message": "Resource not accessible by integration"}, {}
            if len(call.body["body"]) > BODY_LIMIT:
                return 422, {"message": "Validation Failed", "errors": [{"message": "body is too long"}]}, {}
            comment["body"] = call.body["body"]
            return 200, comment, {}
        return 404, {"message": "Not Found", "path": call.path}, {}

    def _graphql(self, body: dict[str, Any]) -> dict[str, Any]:
        """Only what ``gh repo view --json nameWithOwner`` asks: the repository by owner and name."""
        variables = body.get("variables") or {}
        owner, name = variables.get("owner", "?"), variables.get("name", "?")
        return {
            "data": {
                "repository": {"id": "R_1", "name": name, "owner": {"login": owner}, "nameWithOwner": f"{owner}/{name}"}
            }
        }

    def _page(self, items: list[dict[str, Any]], call: Call) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(call.query.get("per_page", [str(self.github.per_page)])[0]), self.github.per_page)
        page = int(call.query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            headers["Link"] = f'<{API}{call.path}?per_page={per_page}&page={page + 1}>; rel="next"'
        return 200, chunk, headers
