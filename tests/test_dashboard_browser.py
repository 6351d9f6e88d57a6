"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright for Python.

Playwright drives the system Chromium (``executable_path``); its own browser download
(``playwright install``) is never used. Chromium is started without the network it would reach on
its own (updates, sync, first-run pages) and with a fresh profile. Without Chromium or Playwright
the tests skip with the reason (and fail under ``CI=true``, where both are installed).

Screenshots go to ``$MAYOR_TEST_ARTIFACTS`` (else ``test-artifacts/`` under pytest's base
temporary folder) as test artifacts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supervisor.repo import Repo
from supervisor.views.dashboard import Dashboard
from tests.dashboard_helpers import gating_two_candidates, ran_repo, setup_repo, supervisor_lock
from tests.sling_helpers import MAYOR, bead, start_sling, wait_for
from tests.tools import absent

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    absent("no Chromium on PATH (Debian: apt-get install chromium)")


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        absent("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as play:
        # Playwright gives each launch a fresh temporary profile (--user-data-dir) and removes it.
        launched = play.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("MAYOR_TEST_ARTIFACTS") or tmp_path_factory.getbasetemp() / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    page.goto(url)
    return page


def test_after_a_run_the_page_shows_every_bead_with_its_status(browser: Any, mayor_repo: Path, tmp_path: Path) -> None:
    ran_repo(mayor_repo, tmp_path)
    with Dashboard(Repo(mayor_repo), port=0) as dash:
        page = open_page(browser, dash.url)
        for bead_id, status in {"a": "merged", "b": "merged", "bad": "failed"}.items():
            cell = page.locator(f'#beads tr[data-bead="{bead_id}"] td.status')
            cell.wait_for(timeout=10_000)
            assert cell.inner_text() == status
        assert page.locator('#failed tr[data-bead="bad"]').count() == 1
        assert page.locator('#counts [data-status="merged"] b').inner_text() == "2"
        assert page.errors == []


def test_during_a_run_the_page_follows_events_and_a_bead_page_shows_its_log(
    browser: Any, mayor_repo: Path, tmp_path: Path, artifacts: Path
) -> None:
    release = tmp_path / "release-a"
    setup_repo(mayor_repo, tmp_path, wait_for=release)
    proc = start_sling(mayor_repo, "-j", "2", "--max-attempts", "1")
    try:
        wait_for(lambda: bead(mayor_repo, "a").status == "running", "bead a to run")
        with Dashboard(Repo(mayor_repo), port=0) as dash:
            page = open_page(browser, dash.url)
            page.locator('#running tr[data-bead="a"]').wait_for(timeout=10_000)
            page.screenshot(path=str(artifacts / "dashboard-running.png"), full_page=True)

            env = {**os.environ, "MAYOR_BEAD_ID": "a", "MAYOR_ATTEMPT": "1"}
            subprocess.run([str(MAYOR), "emit", "halfway_there"], cwd=mayor_repo, env=env, check=True)
            page.locator("#events li", has_text="halfway_there").wait_for(timeout=5_000)

            page.locator('#running a[href="/bead/a"]').click()
            page.locator("#logtext", has_text="agent for a says hello").wait_for(timeout=10_000)
            assert page.locator("#bead h2").inner_text() == "a"  # the bead's id heads its page

            release.touch()  # a finishes and lands; the bead page follows it live
            page.locator("#logtext", has_text="agent for a is done").wait_for(timeout=30_000)
            page.locator("#bead .pill", has_text="merged").wait_for(timeout=30_000)
            page.screenshot(path=str(artifacts / "dashboard-bead.png"), full_page=True)
            assert page.errors == []
    finally:
        release.touch()
        proc.communicate(timeout=90)


def test_with_actions_the_page_cancels_a_bead_through_its_token(browser: Any, mayor_repo: Path, tmp_path: Path) -> None:
    from tests.sling_helpers import add_bead

    ran_repo(mayor_repo, tmp_path)
    add_bead(mayor_repo, "c", "Build part C")
    with Dashboard(Repo(mayor_repo), port=0, actions=True) as dash:
        page = open_page(browser, dash.url + "bead/c")
        page.on("dialog", lambda dialog: dialog.accept())
        page.locator('button[data-action="cancel"]').click()
        page.locator("#bead .pill", has_text="cancelled").wait_for(timeout=10_000)
        assert bead(mayor_repo, "c").status == "cancelled"
        assert page.locator('button[data-action="approve"]').count() == 0  # c is not in review
        assert page.errors == []


def test_the_merge_queue_shows_the_candidates_gated_now_with_their_beads(
    browser: Any, mayor_repo: Path, artifacts: Path
) -> None:
    gating_two_candidates(mayor_repo)
    with supervisor_lock(mayor_repo), Dashboard(Repo(mayor_repo), port=0) as dash:
        page = open_page(browser, dash.url)
        page.locator("#gating li").first.wait_for(timeout=10_000)
        # the section is drawn again each second (the gates' times): read it in one go, never across a redraw
        seen = page.evaluate(
            """() => ({
                candidates: [...document.querySelectorAll('#gating li')].map(li => ({
                    candidate: li.dataset.candidate,
                    beads: [...li.querySelectorAll('a')].map(a => a.innerText),
                    text: li.innerText,
                })),
                waiting: [...document.querySelectorAll('#waiting li')].map(li => li.dataset.bead),
                shape: document.querySelector('#shape').innerText,
                tally: document.querySelector('#queue-tally').innerText,
            })"""
        )
        first, second = seen["candidates"]
        assert first["candidate"] == "c" * 40
        assert first["beads"] == ["g1", "g2"]  # a batch: its beads together
        assert second["beads"] == ["g3"]
        assert "speculative" in second["text"] and "speculative" not in first["text"]
        assert seen["waiting"] == ["g4"]
        assert seen["shape"] == "batch 2 · depth 2 · failure rate 0.05"
        assert "2 gate runs for 0 landed" in seen["tally"]
        page.screenshot(path=str(artifacts / "dashboard-queue.png"), full_page=True)
        assert page.errors == []
