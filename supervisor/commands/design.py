"""``mayor design "FEATURE"``: the first draft of a design document, written by the strong model.

The drafting is :func:`supervisor.planning.draft_design`; this writes its document to a file.
"""

from __future__ import annotations

from beads.errors import MayorError
from supervisor.chat import MAX_OUTPUT_TOKENS, find_site, require_api_key
from supervisor.output import say
from supervisor.planning import draft_design, output_path


def run(*, feature: str, out: str | None = None, model: str | None = None, force: bool = False) -> int:
    if not feature.strip():
        raise MayorError('say what the feature is: mayor design "what it should do"')
    site = find_site()
    path = output_path(site, feature, out, force)
    require_api_key("design")
    document, cut = draft_design(site, feature, model)
    if cut:
        say(f"warning: the answer was cut at {MAX_OUTPUT_TOKENS} tokens; the document ends early")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    print(path)
    return 0
