"""Durability and scale-out with real processes: kill -9 under concurrent load, resends,
two replicas (one of them a --workers 2 supervisor) on one lake, a Redis rate limit they share."""

from __future__ import annotations

import threading
import time
import uuid

import duckdb
import httpx
import pytest
import redis
from collector_harness import Collector, basic, new_source, table, track

pytestmark = pytest.mark.integration

REDIS_URL = "redis://127.0.0.1:6379/0"


class Senders:
    """N threads posting 20-event batches until stopped; records the ids of every 200."""

    def __init__(self, urls: list[str], key: str, n: int, prefix: str) -> None:
        self.urls, self.key, self.prefix = urls, key, prefix
        self.acked: list[str] = []
        self.statuses: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(n)]

    def _run(self, i: int) -> None:
        url = self.urls[i % len(self.urls)]
        b = 0
        with httpx.Client(base_url=url, headers=basic(self.key), timeout=5) as http:
            while not self._stop.is_set():
                ids = [f"{self.prefix}-{i}-{b}-{j}" for j in range(20)]
                b += 1
                try:
                    r = http.post("/v1/batch", json={"batch": [track(m) for m in ids]})
                    code = str(r.status_code)
                except httpx.TransportError:
                    code = "transport"
                    time.sleep(0.05)
                with self._lock:
                    self.statuses[code] = self.statuses.get(code, 0) + 1
                    if code == "200":
                        self.acked.extend(ids)

    def __enter__(self) -> Senders:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


def test_kill_9_under_concurrent_load_lands_every_acked_event_exactly_once(tmp_path):
    data_dir = tmp_path / "data"
    key = new_source(data_dir, "load")
    c = Collector(data_dir, "k9").start()
    with Senders([c.url], key, n=4, prefix="k9") as senders:
        time.sleep(2.5)
        c.kill()  # mid-load: some requests are in flight, some acked ones are only in the WAL
        time.sleep(0.3)
        acked_at_crash = len(senders.acked)
        c.start()
        time.sleep(1.5)  # and more load on the restarted process
    c.stop()
    assert acked_at_crash > 500 and len(senders.acked) > acked_at_crash
    events = table(data_dir, "events")
    acked = set(senders.acked)
    got = events.filter(events["message_id"].is_in(list(acked)))
    assert got.height == len(acked)  # every acked id is there, none twice
    assert got["message_id"].n_unique() == len(acked)
    # ids of requests cut off by the kill may have landed too, but nothing lands twice
    assert events["message_id"].n_unique() == events.height
    assert events["sequence"].n_unique() == events.height


def test_resent_batches_give_one_row_per_message_id_after_staging(tmp_path):
    data_dir = tmp_path / "data"
    key = new_source(data_dir, "resend")
    c = Collector(data_dir, "rs").start()
    batches = [[track(f"rs-{b}-{i}") for i in range(50)] for b in range(4)]
    with httpx.Client(base_url=c.url, headers=basic(key)) as http:
        for batch in batches + batches:  # the same batches twice in one process lifetime
            assert http.post("/v1/batch", json={"batch": batch}).status_code == 200
        c.stop()  # a restart forgets the recent ids: the resend below reaches bronze
        c.start()
        for batch in batches:
            assert http.post("/v1/batch", json={"batch": batch}).status_code == 200
    c.stop()
    events = table(data_dir, "events")
    assert events.height == 400  # each id once per process lifetime
    staged = duckdb.sql(
        "select message_id from events "
        "qualify row_number() over (partition by message_id order by received_at) = 1"
    ).fetchall()  # stg_events' dedupe
    assert len(staged) == 200


def test_two_replicas_on_one_lake_and_a_shared_redis_rate_limit(tmp_path):
    data_dir = tmp_path / "data"
    key = new_source(data_dir, "replicas")
    a = Collector(data_dir, "ra").start()
    b = Collector(data_dir, "rb", workers=2).start()  # ids rb-0, rb-1: three writers in all
    try:
        with Senders([a.url, b.url], key, n=4, prefix="rep"):
            time.sleep(3)
        assert {"ra", "rb-0", "rb-1"} <= {
            line.get("collector_id") for c in (a, b) for line in c.log_lines()
        }
    finally:
        a.stop()
        b.stop()
    events = table(data_dir, "events")
    assert events.height == events["message_id"].n_unique() > 500
    writers = set(events["collector_id"])  # the kernel picks which rb worker accepts
    assert writers <= {"ra", "rb-0", "rb-1"} and "ra" in writers and len(writers) >= 2

    # the same two replicas with a Redis token bucket: one budget for the write key
    r = redis.Redis.from_url(REDIS_URL)
    source_key = new_source(data_dir, f"limited-{uuid.uuid4().hex[:8]}")
    env = {
        "PULSE_REDIS_URL": REDIS_URL,
        "PULSE_RATE_LIMIT_EVENTS_PER_SECOND": "1",
        "PULSE_RATE_LIMIT_BURST_EVENTS": "2500",
    }
    a = Collector(data_dir, "ra", env_extra=env).start()
    b = Collector(data_dir, "rb", env_extra=env).start()
    try:
        codes = []
        for i in range(6):  # 6 x 500 events alternating replicas: the 6th exceeds 2,500
            url = (a, b)[i % 2].url
            body = {"batch": [track(f"lim-{i}-{j}") for j in range(500)]}
            resp = httpx.post(url + "/v1/batch", json=body, headers=basic(source_key))
            codes.append(resp.status_code)
        assert codes == [200] * 5 + [429]
        assert int(resp.headers["Retry-After"]) >= 1
    finally:
        a.stop()
        b.stop()
        _cleanup_limit_keys(r, data_dir)
        r.close()


def _cleanup_limit_keys(r: redis.Redis, data_dir) -> None:
    from core.metadata import engine_for
    from core.settings import Settings
    from lake.sources import list_sources

    for source in list_sources(engine_for(Settings(data_dir=data_dir))):
        r.delete(f"pulse:rl:{source.source_id}")
