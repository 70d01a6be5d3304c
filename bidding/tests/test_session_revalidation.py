"""A socket outlives the page that opened it, so its session is checked again every WS_SESSION_REVALIDATE_SECONDS
(bidding/socket_middleware.py, the rule in accounts/sessions.py): on a real Daphne worker, every way a session stops
signing its user in closes that session's sockets with 4401; a password change keeps the changer signed in, under a
new session key their page's socket reconnects with."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from bidding.protocol import CLOSE_NOT_AUTHENTICATED
from bidding.tests.live import connect, socket_to
from conftest import cookie_header, login

pytestmark = pytest.mark.django_db(transaction=True)

INTERVAL = 0.3
PASSWORD = "first-pass-phrase"
NEW_PASSWORD = "second-pass-phrase"


@pytest.fixture
def server(start_daphne):
    return start_daphne(WS_SESSION_REVALIDATE_SECONDS=str(INTERVAL))


@pytest.fixture
def owner(make_user):
    user = make_user("olivia", password=PASSWORD)
    get_user_model().objects.filter(pk=user.pk).update(email="olivia@example.com")
    return user


async def closed_with(ws, timeout: float = 20 * INTERVAL) -> int:
    """The close code of `ws`, reading past whatever it is sent first; fails if it stays open past `timeout`."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        raise AssertionError(f"the socket stayed open for {timeout} s") from None


async def answers_pings(ws, checks: int = 4) -> bool:
    """`ws` still answers after `checks` more revalidation intervals: the behaviour under test is that time passes
    and the socket is kept, so this waits on the clock, a ping every interval."""
    for _ in range(checks):
        await ws.send(json.dumps({"type": "ping"}))
        while json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] != "pong":
            pass
        await asyncio.sleep(INTERVAL)  # let a revalidation run before the next ping
    return True


async def test_a_password_change_ends_every_other_session_and_its_sockets_and_keeps_the_changer(server, lot, owner):
    mine, stolen = await sync_to_async(login)(owner), await sync_to_async(login)(owner)
    old_key = cookie_header(mine)
    sockets = [await connect(server.url, lot.pk, key) for key in (old_key, cookie_header(stolen))]
    response = await sync_to_async(mine.post)(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    # Another session's sockets close, and so do those on the changer's old key: update_session_auth_hash moved
    # the changer's session to a new key, so a copy of the old cookie is worth nothing either.
    for socket in sockets:
        assert await closed_with(socket) == CLOSE_NOT_AUTHENTICATED
    assert cookie_header(mine) != old_key
    assert (await sync_to_async(mine.get)("/")).context["user"] == owner
    mine_again = await connect(server.url, lot.pk, cookie_header(mine))  # as the page's socket reconnects
    assert await answers_pings(mine_again)
    await mine_again.close()
    for client in (stolen, _with_cookie(old_key)):
        assert not (await sync_to_async(client.get)("/")).context["user"].is_authenticated


def _with_cookie(key: str) -> Client:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    return client


@pytest.mark.parametrize("stay_signed_in_here", [True, False])
async def test_sign_out_everywhere_closes_every_sessions_sockets(server, lot, owner, stay_signed_in_here):
    mine, stolen = await sync_to_async(login)(owner), await sync_to_async(login)(owner)
    sockets = [await connect(server.url, lot.pk, cookie_header(client)) for client in (mine, stolen)]
    form = {"password": PASSWORD, **({"stay_signed_in_here": "on"} if stay_signed_in_here else {})}
    response = await sync_to_async(mine.post)("/accounts/security/", form)
    assert response.status_code == 302
    for socket in sockets:
        assert await closed_with(socket) == CLOSE_NOT_AUTHENTICATED
    assert (await sync_to_async(mine.get)("/")).context["user"].is_authenticated == stay_signed_in_here
    assert not (await sync_to_async(stolen.get)("/")).context["user"].is_authenticated
    if stay_signed_in_here:
        mine_again = await connect(server.url, lot.pk, cookie_header(mine))
        assert await answers_pings(mine_again)
        await mine_again.close()
    assert await sync_to_async(Client().login)(username="olivia", password=PASSWORD)  # the password is unchanged


async def test_a_password_reset_by_email_closes_every_socket_of_the_account(server, lot, owner):
    mine, stolen = await sync_to_async(login)(owner), await sync_to_async(login)(owner)
    sockets = [await connect(server.url, lot.pk, cookie_header(client)) for client in (mine, stolen)]
    browser = Client()
    await sync_to_async(browser.post)("/accounts/password/reset/", {"email": "olivia@example.com"})
    link = re.search(r"http://testserver(/accounts/password/reset/\S+)", mail.outbox[-1].body).group(1)
    form_page = await sync_to_async(browser.get)(link, follow=True)
    response = await sync_to_async(browser.post)(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    for socket in sockets:
        assert await closed_with(socket) == CLOSE_NOT_AUTHENTICATED


def _log_out(user, client):
    client.post("/accounts/logout/")


def _deactivate(user, client):
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)


def _password_set_by_staff(user, client):
    user.set_password(NEW_PASSWORD)  # as the admin's "change password" form does
    user.save(update_fields=["password"])


@pytest.mark.parametrize("end", [_log_out, _deactivate, _password_set_by_staff], ids=lambda end: end.__name__)
async def test_a_session_that_ends_has_its_sockets_closed_within_the_interval(server, lot, owner, end):
    client = await sync_to_async(login)(owner)
    lot_socket = await connect(server.url, lot.pk, cookie_header(client))
    me_socket = await socket_to(server.url, "/ws/me/", cookie_header(client))
    await sync_to_async(end)(owner, client)
    for socket in (lot_socket, me_socket):
        assert await closed_with(socket) == CLOSE_NOT_AUTHENTICATED
