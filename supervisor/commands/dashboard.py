"""``mayor dashboard``: serve the web page of this repository's runs until Ctrl-C."""

from __future__ import annotations

import sys

from supervisor.errors import MayorError
from supervisor.output import say
from supervisor.repo import open_repo


def run(*, host: str = "127.0.0.1", port: int = 8470, actions: bool = False) -> int:
    from supervisor.views.dashboard import Dashboard

    repo = open_repo()
    try:
        dash = Dashboard(repo, host=host, port=port, actions=actions)
    except OSError as exc:
        reason = f"cannot listen on {host}:{port} ({exc.strerror})"
        raise MayorError(f"{reason}; try another --port (0: any free one)") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        say(f"mayor dashboard: listening on {host}, reachable from other machines; anyone there can read the run")
    mode = "approve, reject, cancel and retry enabled" if actions else "read-only"
    say(f"mayor dashboard: {repo.root} ({mode}); Ctrl-C stops it")
    print(dash.url)
    sys.stdout.flush()
    dash.serve_forever()
    return 0
