"""What the browser tests share: Debian's chromium driven by playwright, and a demo clinic
served by gunicorn on a migrated SQLite file."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.helpers import LiveServer, migrate, require_or_skip, seed_demo_clinic

CHROMIUM = Path("/usr/bin/chromium")
# No background traffic: the machine reaches nothing but localhost.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
PHONE = dict(
    viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
    locale="en-US",
)


def playwright_api(*required_files: tuple[Path, str]):
    """playwright.sync_api, once chromium (and any other required file) is there."""
    if not CHROMIUM.exists():
        require_or_skip("Debian's chromium at /usr/bin/chromium")
    for path, what in required_files:
        if not path.exists():
            require_or_skip(what)
    try:
        from playwright import sync_api
    except ImportError:  # pragma: no cover - playwright is in requirements-dev.txt
        require_or_skip("the playwright package")
    return sync_api


@contextmanager
def demo_clinic_server(folder: Path):
    """The demo clinic under gunicorn; the server's db_path is the SQLite file."""
    path = folder / "scheduler.db"
    url = f"sqlite:///{path}"
    migrate(url)
    seed_demo_clinic(url)
    server = LiveServer(url, workers=1, threads=4)
    server.db_path = path
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def chromium(sync_api):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def module_fixtures(name: str, *required_files: tuple[Path, str]):
    """`sync_api`, `live` (the demo clinic under gunicorn) and `browser` fixtures, one of each
    per test module: assign them to those names in the module."""

    @pytest.fixture(scope="module")
    def sync_api():
        return playwright_api(*required_files)

    @pytest.fixture(scope="module")
    def live(sync_api, tmp_path_factory):
        with demo_clinic_server(tmp_path_factory.mktemp(name)) as server:
            yield server

    @pytest.fixture(scope="module")
    def browser(sync_api, live):
        with chromium(sync_api) as browser:
            yield browser

    return sync_api, live, browser
