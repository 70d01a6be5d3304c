from __future__ import annotations

import os
import shutil
import threading
import uuid
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.test import Client

from bidding import locks
from conftest import cookie_header, login

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def hold_lot_lock():
    """Hold a lot's lock as another process (Redis) or another thread (single-process) would."""

    @contextmanager
    def hold(lot_id: int):
        if settings.REDIS_URL:
            key = locks.lock_key(lot_id)
            locks.redis_client().set(key, "someone-else", px=30_000)
            try:
                yield
            finally:
                locks.redis_client().delete(key)
        else:
            acquired = threading.Event()
            release = threading.Event()

            def holder():
                with locks.lot_lock(lot_id):
                    acquired.set()
                    release.wait(30)

            thread = threading.Thread(target=holder)
            thread.start()
            assert acquired.wait(5), "the lot's lock was not free"
            try:
                yield
            finally:
                release.set()
                thread.join()

    return hold


@pytest.fixture
def new_bid_id():
    return lambda: uuid.uuid4().hex


# Staff in the Django admin: a logged-in staff client and its lot actions, posted as the changelist posts them.
@pytest.fixture
def staff(make_user):
    user = make_user("staff", can_bid=False)
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    return user


@pytest.fixture
def staff_client(staff) -> Client:
    return login(staff)


@pytest.fixture
def staff_action(staff_client):
    """Run a lot action from the admin changelist, its intermediate form filled in with `fields` and applied."""

    def run(action: str, lot_ids: list[int], **fields):
        return staff_client.post(
            "/admin/auctions/lot/",
            {
                "action": action,
                "_selected_action": [str(pk) for pk in lot_ids],
                "apply": "1",
                **fields,
            },
            follow=True,
        )

    return run


# The pages in a real browser (Playwright driving Debian's Chromium) against a live Daphne worker: the fixtures the
# browser test modules share. `live` and `shot` are fixtures too, so no test module imports another.
@pytest.fixture(scope="module")
def browser():
    playwright_sync = pytest.importorskip("playwright.sync_api")  # installed by requirements.txt
    if not shutil.which(CHROMIUM):
        pytest.fail(
            f"Chromium is needed for the browser tests: {CHROMIUM} not found (make test installs it as root; "
            "or apt-get install chromium)"
        )
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the sync API keeps an event loop in this thread
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def server(start_daphne):
    return start_daphne("web")


@pytest.fixture
def clocked_server(start_daphne, start_closer):
    """A worker the pages talk to, with the clock running where its events reach them: the web process's own
    closing pass in single-process mode, the closing worker beside it with Redis. A module whose pages need lots to
    open and close uses it as its `server`."""
    single = not settings.REDIS_URL
    web = start_daphne(
        "web", CLOSE_LOTS_IN_WEB_PROCESS="true" if single else "false", CLOSE_LOTS_INTERVAL_SECONDS="0.2"
    )
    if not single:
        start_closer(interval=0.2)
    return web


# The lot page asks before each bid unless told not to for the session; tests that are not about that step bid in
# one click, as a bidder who ticked "Don't ask again this session" does.
SKIP_BID_CONFIRMATION = "try { sessionStorage.setItem('gavel.skipBidConfirm', '1'); } catch (e) {}"


@pytest.fixture
def page_for(browser, server):
    contexts = []

    def open_page(user=None, path="/", *, width=1200, locale="en-US", confirm_bids=False, on=None, dialogs=True):
        target = on or server  # `on`: another worker started by the test (e.g. with other settings)
        # The visitor's locale sets how amounts read (navigator.languages and Accept-Language): fixed, so texts are.
        context = browser.new_context(viewport={"width": width, "height": 900}, locale=locale)
        contexts.append(context)
        if user is not None:
            name, value = cookie_header(user).split("=", 1)
            context.add_cookies([{"name": name, "value": value, "url": target.http}])
        if not confirm_bids:
            context.add_init_script(SKIP_BID_CONFIRMATION)
        page = context.new_page()
        if dialogs:  # False: the test answers each dialog itself (two handlers would race to answer one)
            page.on("dialog", lambda dialog: dialog.accept())
        page.goto(target.http + path)
        return page

    yield open_page
    for context in contexts:
        context.close()


def _shot(page, name: str) -> None:
    folder = os.environ.get("GAVEL_SCREENSHOTS")
    if folder:
        # A phone's picture is its first screen, as its user sees it (the sticky bid bar where it stays).
        page.screenshot(path=os.path.join(folder, name), full_page=page.viewport_size["width"] > 600)


def _live(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#conn")).to_have_text("live", timeout=10_000)


@pytest.fixture
def shot():
    """shot(page, name): a screenshot into $GAVEL_SCREENSHOTS (the README's images), if set: the whole page on a
    desktop, the first screen on a phone."""
    return _shot


@pytest.fixture
def live():
    """live(page): wait until the page's socket is connected."""
    return _live
