"""A newcomer's path through the dashboard, in a real headless browser, during `trawl demo --hold`.

The demo runs as a real subprocess (its own local Ray, in a private
RAY_TMPDIR) and holds Ray up after the results. The test follows what the
demo printed: it opens the printed dashboard address, meets Ray's token
sign-in, gets the token with the printed command (`ray get-auth-token`),
signs in, and finds the run in the Jobs view under the trawl job's id.
Skipped with a reason where Debian's chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from tests.fixtures_reliability import kill_ray_under, wait_for

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
# A closed network: no first-run, sync, component updates or background fetches.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def playwright_chromium():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no browser: {CHROMIUM} is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


class Demo:
    """`trawl demo --hold` in a subprocess; its output lines collected as they come."""

    def __init__(self, tmp_path: Path) -> None:
        self.ray_dir = tempfile.mkdtemp(prefix="trawl-ray-")  # short: Ray's socket paths must fit in 107 bytes
        env = {**os.environ, "RAY_TMPDIR": self.ray_dir, "COLUMNS": "250", "TERM": "dumb"}
        trawl = shutil.which("trawl", path=str(Path(sys.executable).parent)) or "trawl"
        self.proc = subprocess.Popen(
            [trawl, "demo", "--hold", "--companies", "1", "--quiet", "--output", str(tmp_path / "out")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> int | None:
        try:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            return self.proc.wait(60)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.proc.kill()
            return None
        finally:
            kill_ray_under(self.ray_dir)
            shutil.rmtree(self.ray_dir, ignore_errors=True)


def test_a_newcomer_signs_in_and_finds_the_named_run(playwright_chromium, tmp_path):
    demo = Demo(tmp_path)
    try:
        wait_for(lambda: "press Enter" in demo.text or demo.proc.poll() is not None, timeout=400,
                 interval=0.5, what="the demo to hold")
        text = demo.text
        assert "press Enter" in text, text[-3000:]
        url = re.search(r"dashboard: (http://\S+?)\s", text).group(1)
        job_id = re.search(r"Ray job:\s+named (\S+) in the Jobs view", text).group(1)
        assert "during the run" in text and "docs/monitoring.md" in text
        # The sign-in hint, followed as printed.
        assert "`ray get-auth-token`" in text, text[-3000:]
        ray_cli = str(Path(sys.executable).parent / "ray")
        token = subprocess.run([ray_cli, "get-auth-token"], capture_output=True, text=True, check=True).stdout.strip()

        page = playwright_chromium.new_page()
        page.goto(f"{url}/#/jobs", timeout=60_000)
        page.get_by_text("Authentication Token Required").wait_for(timeout=60_000)
        page.get_by_role("dialog").locator("input").first.fill(token)
        page.get_by_role("button", name="Submit").click()
        page.get_by_text("Authentication Token Required").wait_for(state="hidden", timeout=30_000)
        page.goto(f"{url}/#/jobs")
        page.get_by_text(job_id, exact=True).first.wait_for(timeout=60_000)  # the Jobs view's Name column
    finally:
        code = demo.stop()
    assert code == 0, demo.text[-3000:]
