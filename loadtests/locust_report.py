"""What a load test's end prints and decides: acknowledgement and broadcast percentiles, failures by kind, and
the exit code from the optional thresholds (so a release can be gated on a run)."""

from __future__ import annotations

from locust.stats import StatsEntry

ACK = "bid ack"
BROADCAST = "broadcast"
LIVE_BID, CLERK, LIVE_EVENT = "live bid", "clerk", "live event"  # the live-sale scenario (locust_live.py)


def _merged(stats, request_type: str, name: str | None = None) -> StatsEntry | None:
    entries = [
        entry
        for (entry_name, method), entry in stats.entries.items()
        if method == request_type and (name is None or entry_name == name)
    ]
    if not entries:
        return None
    total = StatsEntry(stats, f"{request_type} (all)", request_type, use_response_times_cache=False)
    for entry in entries:
        total.extend(entry)
    return total


def _percentiles(entry: StatsEntry | None) -> str:
    if entry is None or not entry.num_requests:
        return "none"
    p50, p99 = entry.get_response_time_percentile(0.5), entry.get_response_time_percentile(0.99)
    return f"p50 {p50:.0f} ms, p99 {p99:.0f} ms ({entry.num_requests})"


def summary_lines(stats) -> list[str]:
    lines = [f"bid acks:        {_percentiles(_merged(stats, ACK))}"]
    broadcast_names = sorted({name for name, method in stats.entries if method == BROADCAST})
    lines += [f"broadcast {name}: {_percentiles(_merged(stats, BROADCAST, name))}" for name in broadcast_names]
    outcomes = sorted((name, entry.num_requests) for (name, method), entry in stats.entries.items() if method == ACK)
    lines.append("bid outcomes:    " + (", ".join(f"{name} {count}" for name, count in outcomes) or "none"))
    if any(method == LIVE_BID or method == CLERK for _name, method in stats.entries):
        lines.append(f"live bids:       {_percentiles(_merged(stats, LIVE_BID))}")
        live = sorted((name, e.num_requests) for (name, method), e in stats.entries.items() if method == LIVE_BID)
        lines.append("live outcomes:   " + (", ".join(f"{name} {count}" for name, count in live) or "none"))
        lines.append(f"clerk actions:   {_percentiles(_merged(stats, CLERK))}")
        lines.append(f"live event lag:  {_percentiles(_merged(stats, LIVE_EVENT))}")
    closes = [(name, entry.num_requests) for (name, method), entry in stats.entries.items() if method == "WS event"]
    lines.append("socket events:   " + (", ".join(f"{name} {count}" for name, count in sorted(closes)) or "none"))
    failures = sorted(stats.errors.values(), key=lambda error: -error.occurrences)
    lines.append(f"failures:        {stats.total.num_failures} of {stats.total.num_requests}")
    lines += [f"  {error.occurrences} × {error.method} {error.name}: {error.error}" for error in failures]
    return lines


def verdict(stats, *, max_ack_p99_ms: float, max_failure_ratio: float) -> list[str]:
    """The thresholds this run broke (empty: it passed). A threshold of 0 ms or a negative ratio is off."""
    broken = []
    acks = _merged(stats, ACK)
    if max_ack_p99_ms > 0 and acks is not None and acks.num_requests:
        p99 = acks.get_response_time_percentile(0.99)
        if p99 > max_ack_p99_ms:
            broken.append(f"bid ack p99 {p99:.0f} ms > {max_ack_p99_ms:.0f} ms")
    if max_failure_ratio >= 0 and stats.total.num_requests:
        ratio = stats.total.num_failures / stats.total.num_requests
        if ratio > max_failure_ratio:
            broken.append(f"failure ratio {ratio:.4f} > {max_failure_ratio}")
    return broken
