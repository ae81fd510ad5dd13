"""The Dagster web UI as a person meets it: `dagster-webserver` over an instance, and
Debian's Chromium driven by Playwright (never a downloaded browser). Used by the browser tests
and by `make screenshots`."""

from __future__ import annotations

import json
import os
import signal
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from playwright.sync_api import Page, expect, sync_playwright

from meridian_assets_tests.ports import free_port

PROJECT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"  # Debian's package, installed by scripts/bootstrap.sh
LOCATION = "meridian_assets"
STARTUP_SECONDS = 180


class Webserver:
    """dagster-webserver in its own process group, stopped with it (code server included).
    Started without a host, as a person does: its default must be 127.0.0.1 (`listening`)."""

    def __init__(self, env: dict[str, str], log: Path, flags: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "w")
        self._process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-webserver"), "-p", str(self.port),
             "-w", str(PROJECT / "workspace.yaml"), *flags],
            cwd=PROJECT, env={**os.environ, **env, "MERIDIAN_UI_URL": self.url},
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def graphql(self, query: str, **variables) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql", data=json.dumps({"query": query, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.load(response)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def listening(self) -> set[str]:
        """The addresses that the webserver and its code server accept connections on."""
        root = psutil.Process(self._process.pid)
        return {c.laddr.ip for p in [root, *root.children(recursive=True)]
                for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}

    def wait_until_loaded(self) -> None:
        """Until the code location is loaded (a load error fails at once, with the error)."""
        query = "{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename "\
                "... on PythonError { message } } } } } }"
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self._process.poll() is None, f"dagster-webserver exited, see {self._log.name}"
            try:
                entries = self.graphql(query)["workspaceOrError"]["locationEntries"]
            except OSError:
                entries = []
            loaded = {e["name"]: e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]}
            if LOCATION in loaded:
                assert loaded[LOCATION]["__typename"] == "RepositoryLocation", loaded[LOCATION]
                return
            time.sleep(1)
        raise TimeoutError(f"the code location did not load in {STARTUP_SECONDS} s, see {self._log.name}")

    def stop(self) -> None:
        """The whole process group, code server included, even if the webserver itself is gone."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self._process.pid, sig)
                self._process.wait(timeout=30)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        self._log.close()


@contextmanager
def webserver(dagster_home: Path, env: dict[str, str], log: Path, flags: tuple[str, ...] = ()) -> Iterator[Webserver]:
    """The webserver over `dagster_home`, with the instance settings the project ships (telemetry
    and the first-visit "Join the community" dialog off) where the home has none of its own."""
    if not (dagster_home / "dagster.yaml").exists():
        shutil.copy(PROJECT / "dagster.yaml", dagster_home / "dagster.yaml")
    server = Webserver({"DAGSTER_HOME": str(dagster_home), **env}, log, flags)
    try:
        server.wait_until_loaded()
        yield server
    finally:
        server.stop()


@contextmanager
def browser_page(base_url: str) -> Iterator[Page]:
    """A Chromium page on the UI, as a newcomer opens it."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            # Wide enough that the lineage fits and check names are not shortened.
            page = browser.new_page(base_url=base_url, viewport={"width": 2200, "height": 1300})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def open_lineage(page: Page) -> None:
    """The global lineage with every group expanded (the UI's ⌥E)."""
    page.goto("/asset-groups")
    page.get_by_text("raw_ingestion", exact=True).first.wait_for()
    page.wait_for_load_state("networkidle")
    node = page.get_by_text("raw_gps_telemetry", exact=True)
    if not node.count():  # the UI remembers expanded groups; ⌥E toggles
        page.keyboard.press("Alt+e")
    node.first.wait_for()
    # Each node loads its status on its own; then the edges settle into place.
    expect(page.get_by_text("Loading")).to_have_count(0)
    page.wait_for_timeout(1000)


def shoot(page: Page, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.wait_for_load_state("networkidle")
    page.screenshot(path=path)
    return path
