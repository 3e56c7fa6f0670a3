"""The dashboard in a real browser (headless Chromium) against a real daemon with real policies."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from servers import motoserver

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# Installed by scripts/install-test-deps.sh (Debian's chromium and chromium-driver): missing,
# these tests fail rather than skip, so a CI run never passes without the browser.

ARTIFACTS = Path(
    os.environ.get("FSREPLICA_ARTIFACTS") or Path(__file__).parents[2] / "build" / "artifacts"
)
TOKEN = "dashboard-test-token-0123456789"
DEADLINE = 20.0


def wait_for(what: str, check: Callable[[], Any], *, timeout: float = DEADLINE) -> Any:
    """Return check()'s first truthy value, polling until `timeout`; fail naming `what`."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Daemon:
    """A `fsreplica daemon` process with its TCP API on loopback."""

    def __init__(self, root: Path, config: str) -> None:
        self.root = root
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        token_file = root / "token"
        token_file.write_text(TOKEN)
        token_file.chmod(0o600)
        self.config = root / "config.toml"
        self.config.write_text(
            f'[daemon]\nsocket = "{root}/run/fsreplica.sock"\n'
            f'api = "127.0.0.1:{self.port}"\ntoken_file = "{token_file}"\n\n{config}'
        )
        env = dict(os.environ)
        env.update(
            XDG_STATE_HOME=str(root / "state"),
            XDG_CONFIG_HOME=str(root / "config"),
            XDG_RUNTIME_DIR=str(root / "run"),
            AWS_ACCESS_KEY_ID=motoserver.ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=motoserver.SECRET_KEY,
            AWS_DEFAULT_REGION=motoserver.REGION,
        )
        self.log = open(root / "daemon.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fsreplica", "daemon", "--config", str(self.config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def get(self, path: str) -> Any:
        request = urllib.request.Request(
            self.base + path, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def status(self) -> dict[str, Any]:
        return {p["id"]: p for p in self.get("/api/v1/status")["policies"]}

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"daemon exited: {(self.root / 'daemon.log').read_text()}")
        try:
            return bool(self.get("/api/v1/status")["ready"])
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon with two policies: one to a local directory, one to a bucket on moto.

    One for the module: each test opens its own browser on it.
    """
    tmp_path = tmp_path_factory.mktemp("dashboard")
    endpoint = motoserver.endpoint()
    bucket = motoserver.new_bucket(endpoint)
    for name in ("docs-src", "docs-dst", "photos-src"):
        (tmp_path / name).mkdir()
    (tmp_path / "docs-src" / "readme.txt").write_text("hello")
    config = (
        f'[[policy]]\nid = "docs"\nsource = "{tmp_path}/docs-src"\n'
        f'destination = "{tmp_path}/docs-dst"\ndebounce = 0.05\n\n'
        f'[[policy]]\nid = "photos"\nsource = "{tmp_path}/photos-src"\n'
        f'destination = "s3://{bucket}/photos"\nendpoint_url = "{endpoint}"\ndebounce = 0.05\n'
    )
    proc = Daemon(tmp_path, config)
    try:
        wait_for("the daemon to be ready", proc.ready, timeout=25)
        yield proc
    finally:
        proc.stop()
        motoserver.empty_bucket(endpoint, bucket)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium, 1280x800, its console kept; never talks to anything but loopback."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail("needs Debian's chromium and chromium-driver (scripts/install-test-deps.sh)")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"dashboard-{name}.png"))


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def card(driver: Any, policy: str) -> Any:
    found = driver.find_elements(By.CSS_SELECTOR, f'article.policy[data-policy="{policy}"]')
    return found[0] if found else None


def text(driver: Any, selector: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, selector).text)


def sign_in(driver: Any, daemon: Daemon) -> None:
    driver.get(daemon.base + "/")
    field = wait_for("the login form", lambda: driver.find_element(By.ID, "token").is_displayed())
    assert field
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    wait_for("both policies on the page", lambda: card(driver, "docs") and card(driver, "photos"))


class TestDashboard:
    """What a user of the dashboard sees and does, in a real browser."""

    def test_the_page_asks_for_the_token_and_holds_no_data_without_it(
        self, daemon: Daemon, browser: Any
    ) -> None:
        """Without the token the page is a login form, and the API refuses a request."""
        browser.get(daemon.base + "/")
        wait_for("the login form", lambda: browser.find_element(By.ID, "login").is_displayed())
        assert not browser.find_element(By.ID, "board").is_displayed()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(daemon.base + "/api/v1/status", timeout=5)
        assert refused.value.code == 401
        refused.value.close()
        shot(browser, "login")
        assert console_errors(browser) == []

    def test_a_change_shows_in_the_feed_and_pending_returns_to_zero(
        self, daemon: Daemon, browser: Any
    ) -> None:
        """A file written in a source shows in the live feed; the pending count ends at 0."""
        sign_in(browser, daemon)
        (daemon.root / "docs-src" / "report-2026.txt").write_text("quarterly")
        wait_for("the put in the feed", lambda: "report-2026.txt" in text(browser, "#feed"))
        wait_for(
            "pending back to 0",
            lambda: (
                text(browser, 'article[data-policy="docs"] .pending') == "0"
                and "live" in text(browser, 'article[data-policy="docs"] .state')
            ),
        )
        assert (daemon.root / "docs-dst" / "report-2026.txt").read_text() == "quarterly"
        shot(browser, "live")
        assert console_errors(browser) == []

    def test_the_sync_button_starts_a_sync_after_a_confirmation(
        self, daemon: Daemon, browser: Any
    ) -> None:
        """Sync now asks first; confirmed, it queues a job the API reports."""
        sign_in(browser, daemon)
        card(browser, "docs").find_element(By.CSS_SELECTOR, "button.sync").click()
        dialog = browser.find_element(By.ID, "confirm")
        wait_for("the confirmation", dialog.is_displayed)
        assert "docs" in dialog.text
        browser.find_element(By.ID, "confirm-ok").click()
        line = wait_for(
            "the job in the feed",
            lambda: next(
                (li for li in text(browser, "#feed").splitlines() if "sync of docs queued" in li),
                None,
            ),
        )
        job = line.split("job ")[1].rstrip(")")
        wait_for("the job to finish", lambda: daemon.get(f"/api/v1/jobs/{job}")["state"] == "done")
        assert console_errors(browser) == []

    def test_a_destination_down_turns_its_policy_red(self, daemon: Daemon, browser: Any) -> None:
        """With moto stopped, the photos policy shows "destination down" in red and in words."""
        sign_in(browser, daemon)
        with motoserver.outage():
            (daemon.root / "photos-src" / "cat.jpg").write_bytes(b"\xff\xd8" + b"0" * 1000)
            wait_for(
                "photos to turn red",
                lambda: (
                    "s-bad" in card(browser, "photos").get_attribute("class")
                    and "destination down" in text(browser, 'article[data-policy="photos"] .state')
                ),
                timeout=25,
            )
            assert "s-ok" in card(browser, "docs").get_attribute("class")
            shot(browser, "destination-down")

    def test_a_phone_sized_viewport_shows_everything_without_sideways_scrolling(
        self, daemon: Daemon, browser: Any
    ) -> None:
        """At 390x844 the cards stack in one column and nothing overflows the width."""
        browser.set_window_size(390, 844)
        sign_in(browser, daemon)
        width = browser.execute_script("return document.documentElement.scrollWidth")
        inner = browser.execute_script("return window.innerWidth")
        assert width <= inner
        shot(browser, "phone")
        assert console_errors(browser) == []
