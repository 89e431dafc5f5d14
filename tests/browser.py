"""Browser tests in Debian's headless Chromium: a pytest plugin, registered by the root conftest.

The ``chromium`` fixture drives ``/usr/bin/chromium`` through ``/usr/bin/chromedriver``, both
given by path so that Selenium Manager — which otherwise downloads drivers and reports usage over
the network — never runs (``scripts/ensure_browser.sh``, called by ``make test``, installs the
Debian packages ``chromium`` and ``chromium-driver``). A missing browser fails the test, never
skips it. The viewport is an A4 page at 96 dpi (794 × 1123 px), the locale en-GB.

The helpers take the driver: ``login`` signs a user in without the login form, ``console_errors``
reads the browser console, ``page_width`` and ``A4_WIDTH_PX`` check that a page fits an A4 width,
``save_screenshot`` keeps a full-page PNG under ``artifacts/screenshots/`` and ``svg_charts``
measures the page's ``svg.chart`` elements. Use them with pytest-django's ``live_server`` (which
brings ``transactional_db``: the server thread must see the test's rows and sessions).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
A4_WIDTH_PX = 794  # 210 mm at 96 dpi
A4_HEIGHT_PX = 1123  # 297 mm at 96 dpi
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"


def chromium_options() -> webdriver.ChromeOptions:
    """Headless Chromium on an A4-sized window, en-GB, with the console log kept."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",  # containers' /dev/shm is often 64 MB
        f"--window-size={A4_WIDTH_PX},{A4_HEIGHT_PX}",
        "--lang=en-GB",  # ignored on Linux without chromium-l10n's en-GB.pak: see _start
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-GB,en"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@pytest.fixture
def chromium() -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium per test (no cookie or log carried over), always quit after."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} missing: the browser tests need Debian's chromium and "
            "chromium-driver — run scripts/ensure_browser.sh (make test does).",
            pytrace=False,
        )
    os.environ["SE_AVOID_STATS"] = "true"  # no usage statistics sent by Selenium
    driver = webdriver.Chrome(
        service=Service(executable_path=str(CHROMEDRIVER)), options=chromium_options()
    )
    try:
        _start(driver)
        yield driver
    finally:
        driver.quit()


def _start(driver: webdriver.Chrome) -> None:
    """Make the page en-GB and A4 (the command-line flags alone give en-US and a shorter page).

    Debian's ``chromium`` ships only the en-US locale (the others are in ``chromium-l10n``), so
    ``--lang=en-GB`` leaves JavaScript's ``Intl`` and ``toLocaleString`` in en-US; the
    ``intl.accept_languages`` preference sets ``navigator.language`` and the Accept-Language
    header, the DevTools locale override the rest (31/01/2024, not 1/31/2024). Headless Chromium
    keeps part of its window for browser chrome (143 px here), so the viewport is set to A4 itself.
    """
    driver.execute_cdp_cmd("Emulation.setLocaleOverride", {"locale": "en-GB"})
    driver.set_window_size(A4_WIDTH_PX, A4_HEIGHT_PX + _chrome_height(driver))


def _chrome_height(driver: webdriver.Chrome) -> int:
    """The window's height kept by the browser itself (its height minus the viewport's)."""
    return int(driver.execute_script("return window.outerHeight - window.innerHeight"))


def login(driver: webdriver.Chrome, live_server_url: str, user) -> None:
    """Sign ``user`` in without the login form: a session made by the test client, its cookie
    copied into the browser (after a page of the live server, so that the cookie's domain is it)."""
    client = Client()
    client.force_login(user)
    session_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    driver.get(live_server_url + "/healthz")
    driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": session_cookie, "path": "/"})


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """The browser console's SEVERE entries since the last call (reading the log empties it).

    Nothing is filtered: a failed request (a 404 for ``/favicon.ico`` included), an uncaught
    exception and a blocked resource are all errors of the page, to be fixed in the page — a
    favicon 404 means a page without a ``<link rel="icon">`` the browser then asks the server
    for — not to be filtered out here.
    """
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def page_width(driver: webdriver.Chrome) -> int:
    """The width of the page's content in CSS pixels (more than the window: it scrolls sideways)."""
    return int(driver.execute_script("return document.documentElement.scrollWidth"))


def save_screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save the whole page (not only the window) as ``artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = driver.get_window_size()
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(size["width"], max(height + _chrome_height(driver), size["height"]))
    try:
        shown = int(driver.execute_script("return window.innerHeight"))
        if shown < height:
            raise AssertionError(f"the window grew to {shown} px, not the page's {height} px")
        if not driver.save_screenshot(str(path)):
            raise AssertionError(f"Chromium did not write the screenshot {path}")
    finally:
        driver.set_window_size(size["width"], size["height"])
    return path


_SVG_CHARTS_JS = """
return Array.from(document.querySelectorAll("svg.chart"), (svg) => {
  const box = svg.getBoundingClientRect();
  return {name: svg.getAttribute("data-chart"), width: box.width, height: box.height};
});
"""


def svg_charts(driver: webdriver.Chrome) -> dict[str, dict]:
    """Every ``svg.chart`` on the page by its ``data-chart`` name: ``{"width": …, "height": …}``,
    its rendered size in CSS pixels (0 × 0 when hidden). A chart without a ``data-chart`` name or
    with a name already taken is an error of the page, raised rather than dropped."""
    charts: dict[str, dict] = {}
    for chart in driver.execute_script(_SVG_CHARTS_JS):
        name = chart["name"]
        if not name:
            raise AssertionError("an svg.chart has no data-chart attribute")
        if name in charts:
            raise AssertionError(f"two svg.chart elements have data-chart={name!r}")
        charts[name] = {"width": chart["width"], "height": chart["height"]}
    return charts
