"""Make ``docs/dashboard.png``: the dashboard during a run of ``mayor demo``, in headless Chromium.

    python docs/dashboard_screenshot.py [OUT.png]

Needs Debian's ``chromium`` and Playwright for Python (the test extras). The demo runs in a new
temporary folder; the picture is taken once at least two beads run, one waits in the merge queue and one has landed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from supervisor.repo import Repo
from supervisor.views.dashboard import Dashboard

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ARGS += ["--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions"]


MOMENT = """() => document.querySelectorAll('#running tbody tr').length >= 2
    && document.querySelector('#queue li, #queue .gate') !== null
    && document.querySelector('#counts [data-status=merged]') !== null"""
"""Two beads run, one waits in the merge queue (or its gate runs) and one has landed."""


def main(out: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mayor-shot-")) / "demo"
    mayor = shutil.which("mayor") or "mayor"
    demo = subprocess.Popen([mayor, "demo", "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (folder / ".mayor" / "events.jsonl").exists():
            time.sleep(0.05)
        with Dashboard(Repo(folder), port=0) as dash, sync_playwright() as play:
            browser = play.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1050})
            page.goto(dash.url)
            page.wait_for_function(MOMENT, polling=20, timeout=60_000)
            page.screenshot(path=str(out), full_page=True)
            browser.close()
    finally:
        demo.wait(timeout=120)
    print(out)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("dashboard.png")))
