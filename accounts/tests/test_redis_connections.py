"""REDIS_URL as an operator writes it: one server, or the primary a set of sentinels names."""

from __future__ import annotations

import pytest

from accounts.redis_connections import BlockingSentinelConnectionPool, redis_target

pytestmark = pytest.mark.pure


def test_a_plain_url_is_one_server_with_its_database():
    target = redis_target("redis://:pw@cache.internal:6380/4")
    assert not target.through_sentinel
    assert target.db == 4
    assert target.channel_layer_host(max_connections=7) == {
        "address": "redis://:pw@cache.internal:6380/4",
        "max_connections": 7,
    }


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_database():
    target = redis_target("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26379,[::1]:26380/gavel/2")
    assert target.through_sentinel
    assert target.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379), ("::1", 26380))
    assert (target.master_name, target.db) == ("gavel", 2)
    host = target.channel_layer_host(max_connections=7)
    assert host["master_name"] == "gavel" and host["sentinels"] == list(target.sentinels)
    assert (host["db"], host["password"], host["max_connections"]) == (2, "s3cret", 7)
    assert "address" not in host


def test_without_a_database_a_sentinel_url_means_database_0():
    assert redis_target("redis+sentinel://s1:26379/mymaster").db == 0


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://s1:26379",  # no master name
        "redis+sentinel:///mymaster",  # no sentinel
        "redis+sentinel://s1/mymaster",  # no port
        "redis+sentinel://s1:26379/mymaster/two",
        "memcached://s1:11211",
    ],
)
def test_a_url_that_cannot_work_is_refused_with_the_form_it_should_have(url):
    with pytest.raises(ValueError, match=r"REDIS_URL|scheme|Redis URL"):
        redis_target(url)


async def test_through_sentinel_the_socket_path_pool_waits_when_full_instead_of_failing():
    pool = redis_target("redis+sentinel://127.0.0.1:1/gavel/3").async_blocking_pool(max_connections=5, timeout=0.5)
    assert isinstance(pool, BlockingSentinelConnectionPool)
    assert (pool.max_connections, pool.timeout, pool.connection_kwargs["db"]) == (5, 0.5, 3)
    assert pool.service_name == "gavel" and pool.is_master
