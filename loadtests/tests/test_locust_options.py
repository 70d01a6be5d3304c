"""The load test's options parse the same from the command line and from locust.conf, and name the right sockets."""

from __future__ import annotations

import configargparse
import pytest

from loadtests import locust_options as options

pytestmark = pytest.mark.pure


def parser(config_files=()) -> configargparse.ArgumentParser:
    # Locust's own parser is a configargparse one; its listener adds these arguments to it.
    result = configargparse.ArgumentParser(default_config_files=list(config_files))
    options.add_arguments(result)
    return result


def test_defaults_and_command_line_values():
    parsed = parser().parse_args([])
    assert (parsed.gavel_bid_wait, parsed.gavel_user_weights, parsed.gavel_shape) == ("1,3", "3,10,1", "steady")
    assert parsed.gavel_ack_timeout == 10.0 and not parsed.gavel_same_clock
    parsed = parser().parse_args(
        ["--gavel-fixture", "https://staging.example.org/fixture.json", "--gavel-max-share", "0.5",
         "--gavel-shape", "event", "--gavel-ack-timeout", "2.5", "--gavel-same-clock"]
    )  # fmt: skip
    assert parsed.gavel_fixture == "https://staging.example.org/fixture.json"
    assert (parsed.gavel_max_share, parsed.gavel_shape, parsed.gavel_ack_timeout) == (0.5, "event", 2.5)
    assert parsed.gavel_same_clock


def test_the_same_names_work_in_locust_conf(tmp_path):
    conf = tmp_path / "locust.conf"
    conf.write_text("gavel-bid-wait = 0.5,1\ngavel-user-weights = 1,0,0\ngavel-max-ack-p99-ms = 250\n")
    parsed = parser([conf]).parse_args([])
    assert options.pair(parsed.gavel_bid_wait) == (0.5, 1.0)
    assert options.weights(parsed.gavel_user_weights) == (1, 0, 0)
    assert parsed.gavel_max_ack_p99_ms == 250


def test_an_unknown_shape_is_refused():
    with pytest.raises(SystemExit):
        parser().parse_args(["--gavel-shape", "burst"])


@pytest.mark.parametrize("text", ["3", "3,1", "-1,2", "a,b"])
def test_a_bad_pace_is_refused(text):
    with pytest.raises(ValueError):
        options.pair(text)


@pytest.mark.parametrize("text", ["1,2", "0,0,0", "1,-1,1"])
def test_bad_weights_are_refused(text):
    with pytest.raises(ValueError):
        options.weights(text)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("https://staging.example.org", "wss://staging.example.org/ws/auctions/7/"),
        ("https://staging.example.org:8443", "wss://staging.example.org:8443/ws/auctions/7/"),
        ("http://127.0.0.1:8001", "ws://127.0.0.1:8001/ws/auctions/7/"),
        ("http://gavel.test", "ws://gavel.test/ws/auctions/7/"),
        ("http://[::1]:8001", "ws://[::1]:8001/ws/auctions/7/"),
    ],
)
def test_sockets_follow_the_hosts_scheme_and_port(host, url):
    assert options.Target.of(host).socket_url("/ws/auctions/7/") == url


def test_a_local_stack_spreads_sockets_as_nginx_does():
    target = options.Target.of("http://127.0.0.1:8001", "8101,8102,8103")
    lot_ports = {target.socket_url("/ws/auctions/7/") for _ in range(20)}
    assert len(lot_ports) == 1, "every socket of one lot goes to one worker"
    assert {target.socket_url(f"/ws/auctions/{n}/").rsplit(":", 1)[1].split("/")[0] for n in range(50)} == {
        "8101",
        "8102",
        "8103",
    }


def test_the_host_must_be_a_web_address():
    with pytest.raises(ValueError):
        options.Target.of("ws://127.0.0.1:8001")


def test_a_fixture_is_read_from_a_file_and_checked(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"seller": "s", "bidders": ["b"], "lots": [1], "password": "p"}')
    bad.write_text('{"lots": [1]}')
    assert options.load_fixture(str(good))["lots"] == [1]
    with pytest.raises(ValueError, match="seed_loadtest"):
        options.load_fixture(str(bad))
    with pytest.raises(ValueError, match="required"):
        options.load_fixture("")


def test_each_worker_bids_with_accounts_of_its_own():
    fixture = {"seller": "s", "password": "p", "lots": [1, 2], "bidders": [f"b{n}" for n in range(7)]}
    shares = [options.share(fixture, index, 3) for index in range(3)]
    names = [name for part in shares for name in part["bidders"]]
    assert sorted(names) == sorted(fixture["bidders"]), "every account used, none by two workers"
    assert all(part["lots"] == [1, 2] and part["seller"] == "s" for part in shares)
    assert options.share(fixture, 9, 10)["bidders"] == ["b2"], "more workers than accounts: each still bids"


def test_the_live_scenario_is_an_option_and_needs_a_fixture_with_a_sale(tmp_path):
    parsed = parser().parse_args([])
    assert parsed.gavel_scenario == "lots", "the timed lots unless asked"
    parsed = parser().parse_args(
        ["--gavel-scenario", "live", "--gavel-clerk-pace", "1.5", "--gavel-lot-turns", "8",
         "--gavel-live-bid-share", "0.5"]
    )  # fmt: skip
    assert (parsed.gavel_scenario, parsed.gavel_clerk_pace, parsed.gavel_lot_turns) == ("live", 1.5, 8)
    assert parsed.gavel_live_bid_share == 0.5
    with pytest.raises(SystemExit):
        parser().parse_args(["--gavel-scenario", "auction"])
    lots_only = tmp_path / "lots.json"
    lots_only.write_text('{"seller": "s", "bidders": ["b"], "lots": [1], "password": "p"}')
    assert options.load_fixture(str(lots_only))["lots"] == [1]
    with pytest.raises(ValueError, match="--sale-lots"):
        options.load_fixture(str(lots_only), live=True)
    with_sale = tmp_path / "sale.json"
    with_sale.write_text(
        '{"seller": "s", "bidders": ["b"], "lots": [1], "password": "p", "sale": {"id": 3, "lots": [4], "clerk": "h"}}'
    )
    assert options.load_fixture(str(with_sale), live=True)["sale"]["clerk"] == "h"
