"""Smoke of the browser-test tooling (tests/browser.py) on the Django admin, in headless Chromium.

A superuser signed in by cookie sees the admin index — its title, no console error, no wider than
an A4 page, a full-page screenshot saved — and an anonymous visitor is sent to the login page.
"""

from __future__ import annotations

import pytest
from django.contrib import admin

from tests.browser import A4_WIDTH_PX, console_errors, login, page_width, save_screenshot

pytestmark = pytest.mark.slow


def test_admin_index_renders_for_a_signed_in_superuser(chromium, live_server, admin_user):
    # given a superuser signed in through a session cookie, not the login form
    login(chromium, live_server.url, admin_user)

    # when the browser opens the admin index
    chromium.get(live_server.url + "/admin/")

    # then it is the desk's admin, with no console error, within an A4 width
    assert chromium.current_url == live_server.url + "/admin/"
    assert admin.site.site_title in chromium.title
    assert admin.site.site_header in chromium.find_element("id", "site-name").text
    assert console_errors(chromium) == []
    assert page_width(chromium) <= A4_WIDTH_PX

    # and a full-page screenshot of it is kept under artifacts/screenshots/
    path = save_screenshot(chromium, "admin_index")
    assert path.name == "admin_index.png"
    assert path.is_file() and path.stat().st_size > 0
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_admin_sends_an_anonymous_visitor_to_the_login_page(chromium, live_server):
    # given a browser with no session
    # when it opens the admin index
    chromium.get(live_server.url + "/admin/")

    # then it lands on the admin login page, which will bring it back to the index
    assert chromium.current_url == live_server.url + "/admin/login/?next=/admin/"
    assert chromium.find_element("name", "username").is_displayed()
    assert console_errors(chromium) == []
