"""Which sessions still sign their user in (accounts/sessions.py), for one socket or every socket of a worker at
once: the batch gives the same answer as the one-by-one rule, in two queries however many sessions."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.sessions import session_signs_in, sessions_signing_in
from conftest import login

pytestmark = pytest.mark.django_db


def signed_in(user) -> tuple[str, int]:
    return login(user).session.session_key, user.pk


def test_the_batch_answers_as_the_one_by_one_rule_in_two_queries(make_user):
    users = [make_user(f"u{i}") for i in range(12)]
    pairs = [signed_in(user) for user in users]
    logged_out, deactivated, password_changed, someone_elses, expired = pairs[:5]
    Session.objects.filter(session_key=logged_out[0]).delete()
    get_user_model().objects.filter(pk=deactivated[1]).update(is_active=False)
    changed = get_user_model().objects.get(pk=password_changed[1])
    changed.set_password("a-new-pass-phrase")
    changed.save()
    Session.objects.filter(session_key=expired[0]).update(expire_date="2000-01-01T00:00:00Z")
    asked = [*pairs, (someone_elses[0], users[-1].pk), ("no-such-session", users[-1].pk)]

    with CaptureQueriesContext(connection) as queries:
        valid = sessions_signing_in(asked)
    assert len(queries.captured_queries) == 2
    assert valid == {pair for pair in asked if session_signs_in(*pair)}
    assert valid == set(pairs[5:]) | {someone_elses}
    assert sessions_signing_in([]) == set()
