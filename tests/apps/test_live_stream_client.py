"""The Live page's SSE client (apps/streamlit/live_stream.py): the wire format and the buffer
(pure), and the reader thread against a real collector process."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from live_collector import Collector, LiveCollector

from apps.streamlit.live_stream import (
    MAX_RETRY_S,
    LiveBuffer,
    LiveStream,
    SSEParser,
    StreamSpec,
    StreamStatus,
    backoff_seconds,
    collector_url,
    known_event_names,
)
from core.settings import Settings

# ---- pure ----------------------------------------------------------------------------------------


def parse(text: str, parser: SSEParser | None = None) -> list[tuple[str, str, str | None]]:
    parser = parser or SSEParser()
    out = []
    for line in text.split("\n"):
        message = parser.feed(line)
        if message is not None:
            out.append((message.event, message.data, message.id))
    return out


def test_sse_parser_reads_events_multiline_data_ids_retry_and_skips_comments():
    parser = SSEParser()
    text = (
        ": connected\nretry: 2000\n\n"
        'event: track\ndata: {"a": 1}\n\n'
        ": heartbeat\n\n"
        "data: line one\ndata:line two\nid: 7\n\n"
        "event: ignored-without-data\n\n"
        "retry: soon\ndata: x\n\n"
    )
    assert parse(text, parser) == [
        ("track", '{"a": 1}', None),
        ("message", "line one\nline two", "7"),
        ("message", "x", "7"),
    ]
    assert parser.retry_ms == 2000  # a non-numeric retry is ignored


def test_backoff_starts_at_the_servers_retry_grows_and_is_capped():
    delays = [backoff_seconds(2.0, n, jitter=0) for n in range(1, 10)]
    assert delays[:3] == [2.0, 3.0, 4.5]
    assert delays == sorted(delays) and delays[-1] == MAX_RETRY_S
    assert 1.8 <= backoff_seconds(2.0, 1) <= 2.2


def test_collector_url_reaches_a_wildcard_bind_over_loopback(tmp_path):
    def url(host: str) -> str:
        return collector_url(Settings(data_dir=tmp_path, host=host, collector_port=9000))

    assert url("127.0.0.1") == "http://127.0.0.1:9000"
    assert url("0.0.0.0") == "http://127.0.0.1:9000"
    assert url("::") == "http://[::1]:9000"
    assert url("collector.internal") == "http://collector.internal:9000"


def test_spec_filters_become_hub_query_parameters_and_hide_the_token():
    spec = StreamSpec(
        "http://c/", "secret", events=("B", "A", "A"), types=("track",), sources=("s",)
    )
    assert spec.url == "http://c"
    assert spec.params() == [("event", "A"), ("event", "B"), ("type", "track"), ("source_id", "s")]
    assert spec.headers() == {"Authorization": "Bearer secret"}
    assert "secret" not in repr(spec)
    assert not spec.seedable and StreamSpec("http://c").seedable


def test_hub_counts_are_matched_to_the_filter_by_name():
    everything = StreamSpec("u")
    assert everything.counts_name("Workout Completed") and everything.counts_name("identify")
    tracks = StreamSpec("u", types=("track",))
    assert tracks.counts_name("Workout Completed") and not tracks.counts_name("page")
    pages = StreamSpec("u", types=("page", "identify"))
    assert pages.counts_name("page") and not pages.counts_name("Workout Completed")
    named = StreamSpec("u", events=("Workout Completed",))
    assert named.counts_name("Workout Completed") and not named.counts_name("Signed Up")
    assert not named.counts_name("identify")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def test_buffer_counts_per_second_and_minute_and_keeps_the_newest_events_first():
    now = 1_800_000_030.5  # 30.5 s into a minute
    buffer = LiveBuffer(StreamSpec("u"), recent_limit=3)
    for i, offset in enumerate([-100, -5, -5, -0.2]):
        frame = {
            "type": "track",
            "event": f"E{i}",
            "user_id": "u",
            "received_at": _iso(now + offset),
        }
        buffer.add_event(frame, now=now)
    view = buffer.view(StreamStatus("live", "", now), None, now=now)
    assert view.last_minute == 3 and view.per_second_rate == pytest.approx(0.3)
    assert (
        len(view.per_second) == 60 and view.per_second[-1][1] == 1 and view.per_second[-6][1] == 2
    )
    assert [n for _, n in view.per_minute[-3:]] == [1, 0, 3]  # -100 s is two minutes back
    assert [r["event"] for r in view.recent] == ["E3", "E2", "E1"]  # bounded to 3
    assert view.total == 4


def test_minute_history_from_the_hub_survives_a_collector_restart():
    now = 1_800_000_030.0
    minute = int(now // 60)
    buffer = LiveBuffer(StreamSpec("u", events=("A",)))

    def snapshot(hub: str, counts: dict[int, dict[str, int]]) -> dict:
        return {
            "hub_id": hub,
            "buckets": [{"minute": _iso(m * 60), "counts": c} for m, c in counts.items()],
        }

    buffer.seed_minutes(snapshot("h1", {minute - 1: {"A": 5, "B": 9}, minute: {"A": 2}}))
    buffer.add_event({"event": "A", "received_at": _iso(now)}, now=now)
    assert [
        n for _, n in buffer.view(StreamStatus("live", "", now), None, now=now).per_minute[-2:]
    ] == [5, 3]
    # Reconnected to the same hub: its counts already include what the stream saw.
    buffer.seed_minutes(snapshot("h1", {minute - 1: {"A": 5}, minute: {"A": 3}}))
    assert [
        n for _, n in buffer.view(StreamStatus("live", "", now), None, now=now).per_minute[-2:]
    ] == [5, 3]
    # A new hub (restart) knows only what came after it started: the old counts stay.
    buffer.seed_minutes(snapshot("h2", {minute: {"A": 1}}))
    assert [
        n for _, n in buffer.view(StreamStatus("live", "", now), None, now=now).per_minute[-2:]
    ] == [5, 4]


# ---- against a real collector --------------------------------------------------------------------


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> float:
    """Poll until ``predicate()`` is truthy; returns how long it took."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, f"not within {timeout} s: {what}"
        time.sleep(0.02)
    return time.monotonic() - start


TOKEN = "s3cret-live-token"


@pytest.fixture(scope="module")
def shared_collector(tmp_path_factory):
    """One collector for the tests that do not stop it; its live stream needs a token."""
    data_dir = tmp_path_factory.mktemp("live-stream") / "data"
    data_dir.mkdir()
    live = LiveCollector(
        Collector(data_dir, collector_id="live-client", env_extra={"PULSE_LIVE_TOKEN": TOKEN})
    )
    live.add_source("web")
    live.add_source("ios")
    live.start()
    yield live
    live.kill()


@pytest.fixture
def streams():
    """``open_stream(url, token=None, wait=True, **filters)``; every stream closed at teardown."""
    opened: list[LiveStream] = []

    def open_stream(
        url: str, token: str | None = TOKEN, *, wait: bool = True, **filters
    ) -> LiveStream:
        stream = LiveStream(StreamSpec(url, token, **filters))
        opened.append(stream)
        if wait:
            wait_until(lambda: stream.status.state == "live", what=f"connected ({stream.status})")
        return stream

    yield open_stream
    for stream in opened:
        stream.close()


@pytest.mark.integration
def test_events_arrive_within_a_second_and_are_counted(shared_collector, streams):
    live = shared_collector
    stream = streams(live.url)
    sent = time.monotonic()
    ids = live.track("Live Check", 3, plan="premium")
    took = wait_until(lambda: stream.view().total >= 3, what="3 events")
    assert time.monotonic() - sent < 1.0, f"took {took:.2f} s"
    view = stream.view()
    assert view.last_minute == 3 and view.per_minute[-1][1] >= 3
    assert {r["message_id"] for r in view.recent} == set(ids)
    assert (
        view.recent[0]["event"] == "Live Check"
        and '"plan":"premium"' in view.recent[0]["properties"]
    )
    assert view.recent[0]["source_id"] == live.source_ids["web"]


@pytest.mark.integration
def test_the_hub_filters_by_event_type_and_source(shared_collector, streams):
    live = shared_collector
    by_event = streams(live.url, events=("Wanted",))
    by_type = streams(live.url, types=("identify",))
    by_source = streams(live.url, sources=(live.source_ids["ios"],))
    live.track("Wanted", 2)
    live.track("Other", 1)
    live.track("Other", 1, source="ios")
    live.send([{"type": "identify", "userId": "u9", "traits": {"plan": "x"}}])
    wait_until(
        lambda: (
            by_event.view().total == 2 and by_type.view().total == 1 and by_source.view().total == 1
        )
    )
    time.sleep(0.3)  # nothing else comes
    assert {r["event"] for r in by_event.view().recent} == {"Wanted"}
    assert [r["type"] for r in by_type.view().recent] == ["identify"]
    assert by_source.view().recent[0]["source_id"] == live.source_ids["ios"]
    assert by_event.view().total == 2 and by_type.view().total == 1 and by_source.view().total == 1
    # The per-minute history of a source filter cannot come from the hub (it counts by name).
    assert by_event.view().minutes_seeded and not by_source.view().minutes_seeded
    # The event filter's options: track names the hub has counted (not message types).
    names = known_event_names(live.url, TOKEN)
    assert {"Wanted", "Other"} <= set(names) and "identify" not in names
    assert known_event_names(live.url, None) == []  # 401 without the token: no options


@pytest.mark.integration
def test_events_before_the_stream_started_fill_the_per_minute_history(shared_collector, streams):
    live = shared_collector
    live.track("Earlier", 4)
    live.track("Not this one", 2)
    time.sleep(0.2)  # the hub counts asynchronously
    stream = streams(live.url, events=("Earlier",))
    view = stream.view()
    assert view.total == 0 and view.last_minute == 0
    assert sum(n for _, n in view.per_minute[-2:]) == 4


@pytest.mark.integration
def test_reconnects_after_the_collector_is_killed_and_restarted(collector, streams):
    live = collector()  # no token: the stream is open on a loopback bind
    stream = streams(live.url, None)
    live.track("Before", 2)
    wait_until(lambda: stream.view().total == 2)
    live.kill()
    wait_until(lambda: stream.status.state == "reconnecting", timeout=2, what="reconnecting")
    assert stream.status.retry_at is not None and "collector" in stream.status.message.lower()
    live.start()
    wait_until(
        lambda: stream.status.state == "live", timeout=15, what=f"live again ({stream.status})"
    )
    assert stream.connections == 2
    live.track("After", 3)
    wait_until(lambda: stream.view().total == 5, timeout=2, what="events after the restart")
    view = stream.view()
    assert view.last_minute == 5
    assert sum(n for _, n in view.per_minute[-2:]) == 5  # old hub's counts kept, no double count


@pytest.mark.integration
def test_the_live_token_is_required_when_set_and_sent_as_bearer(shared_collector, streams):
    without = streams(shared_collector.url, None, wait=False)
    wait_until(lambda: without.status.state == "unauthorized", what=str(without.status))
    assert "PULSE_LIVE_TOKEN" in without.status.message
    assert without.status.retry_at is not None and without.connections == 0
    with_token = streams(shared_collector.url, TOKEN)
    shared_collector.track("Secret", 1)
    wait_until(lambda: with_token.view().total == 1)


@pytest.mark.integration
def test_an_unread_stream_disconnects_and_reports_it(shared_collector, streams):
    stream = streams(shared_collector.url)
    stream.idle_seconds = 0.2
    time.sleep(0.3)
    shared_collector.track("Wake", 1)  # the reader checks after each message
    wait_until(lambda: not stream.alive, timeout=5, what="stopped")
    assert stream.status.state == "stopped"


def test_a_collector_that_cannot_be_reached_is_retried(streams):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there once closed
    stream = streams(f"http://127.0.0.1:{port}", None, wait=False)
    wait_until(lambda: stream.status.state == "reconnecting", what=str(stream.status))
    assert "Cannot reach the collector" in stream.status.message
    assert stream.status.retry_at is not None and stream.status.failures >= 1
