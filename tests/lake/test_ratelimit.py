"""Token-bucket rate limits per write key: the math, in-process, and shared through real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
import redis.asyncio as aioredis

from core.settings import Settings, SettingsError
from lake.ratelimit import (
    InProcessLimiter,
    NoLimit,
    RedisLimiter,
    build_rate_limiter,
    take,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_take_refills_at_rate_and_caps_at_capacity() -> None:
    assert take(0.0, 0.0, 2.0, rate=10, capacity=100, cost=20) == (0.0, 0.0)
    wait, tokens = take(5.0, 0.0, 0.0, rate=10, capacity=100, cost=20)
    assert (wait, tokens) == (1.5, 5.0)  # 15 missing tokens at 10/s; nothing taken
    assert take(90.0, 0.0, 1000.0, rate=10, capacity=100, cost=100) == (0.0, 0.0)


def test_cost_above_capacity_is_allowed_only_from_a_full_bucket_and_leaves_debt() -> None:
    assert take(100.0, 0.0, 0.0, rate=10, capacity=100, cost=250) == (0.0, -150.0)
    wait, _ = take(99.0, 0.0, 0.0, rate=10, capacity=100, cost=250)
    assert wait == pytest.approx(0.1)
    # the debt is repaid at the rate before anything else passes
    wait, _ = take(-150.0, 0.0, 0.0, rate=10, capacity=100, cost=10)
    assert wait == pytest.approx(16.0)


def test_in_process_bucket_per_key_with_injected_clock() -> None:
    clock = FakeClock()
    limiter = InProcessLimiter(rate=100, capacity=3000, clock=clock)

    async def scenario() -> None:
        assert await limiter.acquire("src_a", 2500) == 0.0
        assert await limiter.acquire("src_a", 500) == 0.0
        assert await limiter.acquire("src_a", 100) == pytest.approx(1.0)
        assert await limiter.acquire("src_b", 2500) == 0.0  # another key, its own bucket
        clock.now += 0.5
        assert await limiter.acquire("src_a", 100) == pytest.approx(0.5)  # refused: nothing taken
        clock.now += 0.5
        assert await limiter.acquire("src_a", 100) == 0.0
        assert await limiter.acquire("src_a", 1) == pytest.approx(0.01)
        clock.now += 3600
        assert await limiter.acquire("src_a", 3000) == 0.0  # refilled, but never above capacity
        assert await limiter.acquire("src_a", 1) > 0
        await limiter.aclose()

    asyncio.run(scenario())


def test_build_rate_limiter_from_settings(tmp_path) -> None:
    assert isinstance(build_rate_limiter(Settings(data_dir=tmp_path)), NoLimit)
    assert asyncio.run(NoLimit().acquire("k", 10**9)) == 0.0
    on = Settings(data_dir=tmp_path, rate_limit_events_per_second=50, rate_limit_burst_events=5000)
    limiter = build_rate_limiter(on)
    assert isinstance(limiter, InProcessLimiter)
    assert (limiter.rate, limiter.capacity) == (50.0, 5000)
    small = Settings(
        data_dir=tmp_path, rate_limit_events_per_second=50, rate_limit_burst_events=100
    )
    with pytest.raises(SettingsError, match="PULSE_RATE_LIMIT_BURST_EVENTS"):
        build_rate_limiter(small)
    shared = Settings(data_dir=tmp_path, rate_limit_events_per_second=50, redis_url=REDIS_URL)
    limiter = build_rate_limiter(shared, key_prefix="pulse:test:rl:unused:")
    assert isinstance(limiter, RedisLimiter) and limiter.prefix == "pulse:test:rl:unused:"
    asyncio.run(limiter.aclose())


# ---- Redis ------------------------------------------------------------------------------------
@pytest.fixture
def prefix():
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis server at {REDIS_URL}")
    value = f"pulse:test:rl:{uuid.uuid4().hex}:"
    yield value
    keys = list(client.scan_iter(match=value + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_two_replicas_share_one_bucket(prefix: str) -> None:
    async def scenario() -> None:
        # rate 1/s: refill during the test is negligible against batches of 100
        a = RedisLimiter(aioredis.from_url(REDIS_URL), rate=1, capacity=2500, key_prefix=prefix)
        b = RedisLimiter(aioredis.from_url(REDIS_URL), rate=1, capacity=2500, key_prefix=prefix)
        waits = []
        for i in range(40):
            waits.append(await (a if i % 2 else b).acquire("src_1", 100))
        assert sum(1 for w in waits if w == 0.0) == 25  # one bucket of 2,500, not two
        assert all(w > 0 for w in waits[25:])
        assert waits[-1] == pytest.approx(100.0, abs=1.0)  # 100 tokens at 1/s
        assert await a.acquire("src_2", 2500) == 0.0  # other key untouched
        # concurrent callers from both replicas: still exactly one bucket's worth
        results = await asyncio.gather(
            *(lim.acquire("src_3", 100) for _ in range(30) for lim in (a, b))
        )
        assert sum(1 for w in results if w == 0.0) == 25
        await a.aclose()
        await b.aclose()

    asyncio.run(scenario())


def test_bucket_hash_has_a_ttl_and_server_time(prefix: str) -> None:
    async def scenario() -> None:
        limiter = RedisLimiter(
            aioredis.from_url(REDIS_URL), rate=100, capacity=5000, key_prefix=prefix
        )
        assert await limiter.acquire("src_ttl", 1000) == 0.0
        client = limiter.client
        ttl_ms = await client.pttl(prefix + "src_ttl")
        assert 0 < ttl_ms <= 11_000  # 1,000 tokens to refill at 100/s (+1 s)
        state = await client.hgetall(prefix + "src_ttl")
        assert float(state[b"tokens"]) == pytest.approx(4000, abs=1)
        server_now = (await client.time())[0]
        assert abs(float(state[b"ts"]) - server_now) < 5
        await limiter.aclose()

    asyncio.run(scenario())


def test_script_is_reloaded_after_script_flush(prefix: str) -> None:
    async def scenario() -> None:
        limiter = RedisLimiter(
            aioredis.from_url(REDIS_URL), rate=1, capacity=2500, key_prefix=prefix
        )
        assert await limiter.acquire("src_f", 2000) == 0.0
        await limiter.client.script_flush()
        assert await limiter.acquire("src_f", 2000) > 0  # state survived; EVAL reloaded it
        assert await limiter.acquire("src_f", 400) == 0.0
        await limiter.aclose()

    asyncio.run(scenario())


def test_unreachable_redis_fails_open_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        limiter = RedisLimiter.from_url("redis://127.0.0.1:1/0", rate=1, capacity=2500)
        assert await limiter.acquire("src_x", 100_000) == 0.0
        assert await limiter.acquire("src_x", 100_000) == 0.0  # cool-down: no reconnect storm
        await limiter.aclose()

    with caplog.at_level("WARNING", logger="lake.ratelimit"):
        asyncio.run(scenario())
    assert sum("Redis unavailable" in r.getMessage() for r in caplog.records) == 1


def test_burst_beyond_the_pool_queues_instead_of_failing_open(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> list[float]:
        limiter = RedisLimiter.from_url(
            REDIS_URL, rate=1, capacity=2500, key_prefix=prefix, max_connections=4
        )
        waits = await asyncio.gather(*(limiter.acquire("src_burst", 10) for _ in range(400)))
        await limiter.aclose()
        return waits

    with caplog.at_level("WARNING", logger="lake.ratelimit"):
        waits = asyncio.run(scenario())
    assert sum(1 for w in waits if w == 0.0) == 250
    assert not [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
