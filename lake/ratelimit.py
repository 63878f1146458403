"""Per-write-key rate limits: a token bucket, in-process or shared through Redis.

limiter = build_rate_limiter(settings)
wait = await limiter.acquire(source_id, cost=len(batch))   # 0.0: allowed, tokens taken
if wait:                                                   # else: nothing taken
    return 429 with Retry-After: ceil(wait)
await limiter.aclose()

Bucket: ``rate`` tokens/s (``PULSE_RATE_LIMIT_EVENTS_PER_SECOND``, 0 disables), ``capacity`` tokens
(``PULSE_RATE_LIMIT_BURST_EVENTS``), starting full; one token per event.

A cost above the capacity (only possible if a caller bypasses the 2,500-event batch limit, since
the capacity must be at least that) is allowed when the bucket is full and leaves it in debt
(negative tokens): the long-run rate holds and such a request never waits forever.

Redis (``PULSE_REDIS_URL`` set): one Lua script (EVALSHA, EVAL on NOSCRIPT) updates a hash
``<prefix><key>`` {tokens, ts} atomically, using the Redis server clock (``TIME``) so replicas with
skewed clocks share one bucket; the hash expires once it would have refilled anyway. If Redis is
unreachable the limiter FAILS OPEN: it allows the request, logs a warning (at most every 30 s) and
retries Redis after a 1 s cool-down, so a Redis outage never turns into collector errors.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from core.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# The collector's batch limit (Segment's): a bucket must hold at least one full batch.
MAX_BATCH_EVENTS = 2_500
DEFAULT_KEY_PREFIX = "pulse:rl:"


class RateLimiter(Protocol):
    async def acquire(self, key: str, cost: int) -> float:
        """0.0 when allowed (tokens taken); else seconds until ``cost`` tokens are available."""
        ...

    async def aclose(self) -> None: ...


def take(
    tokens: float, last: float, now: float, rate: float, capacity: float, cost: float
) -> tuple[float, float]:
    """Pure bucket step: ``(wait, tokens_after)`` at ``now`` given the state at ``last``.

    ``wait == 0.0`` means allowed and ``tokens_after`` has ``cost`` taken; otherwise
    ``tokens_after`` is the refilled level with nothing taken.
    """
    tokens = min(capacity, tokens + max(0.0, now - last) * rate)
    need = min(cost, capacity)
    if tokens >= need:
        return 0.0, tokens - cost
    return (need - tokens) / rate, tokens


def _check(rate: float, capacity: int) -> None:
    if not rate > 0:
        raise ValueError(f"rate must be > 0 events/s, got {rate}")
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1 event, got {capacity}")


class NoLimit:
    """Rate limiting disabled (``PULSE_RATE_LIMIT_EVENTS_PER_SECOND=0``)."""

    async def acquire(self, key: str, cost: int) -> float:
        return 0.0

    async def aclose(self) -> None:
        return None


class InProcessLimiter:
    """One bucket per key in this process. ``clock`` (seconds, monotonic) is injectable."""

    def __init__(
        self, rate: float, capacity: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        _check(rate, capacity)
        self.rate, self.capacity, self._clock = float(rate), capacity, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def acquire_now(self, key: str, cost: int) -> float:
        """Synchronous form of :meth:`acquire` (no await inside: atomic on one event loop)."""
        now = self._clock()
        tokens, last = self._buckets.get(key, (self.capacity, now))
        wait, tokens = take(tokens, last, now, self.rate, self.capacity, cost)
        self._buckets[key] = (tokens, now)
        return wait

    async def acquire(self, key: str, cost: int) -> float:
        return self.acquire_now(key, cost)

    async def aclose(self) -> None:
        self._buckets.clear()


# KEYS[1] bucket hash; ARGV rate, capacity, cost. Returns the wait in seconds, as a string
# (a Lua number would be truncated to an integer reply).
_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local last = tonumber(state[2])
if tokens == nil or last == nil then
  tokens = capacity
  last = now
end
local elapsed = now - last
if elapsed < 0 then elapsed = 0 end
tokens = math.min(capacity, tokens + elapsed * rate)
local need = math.min(cost, capacity)
if tokens < need then
  return string.format('%.6f', (need - tokens) / rate)
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'ts', string.format('%.6f', now))
local ttl_ms = math.ceil((capacity - tokens) / rate * 1000) + 1000
redis.call('PEXPIRE', KEYS[1], ttl_ms)
return '0'
"""
_LUA_SHA = hashlib.sha1(_LUA.encode()).hexdigest()


class RedisLimiter:
    """Buckets shared by every replica through one Redis (``redis.asyncio``)."""

    def __init__(
        self,
        client: aioredis.Redis,
        rate: float,
        capacity: int,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        *,
        retry_after_failure: float = 1.0,
    ) -> None:
        _check(rate, capacity)
        self.client, self.rate, self.capacity, self.prefix = (
            client,
            float(rate),
            capacity,
            key_prefix,
        )
        self._args = (repr(self.rate), str(capacity))
        self._retry_after_failure = retry_after_failure
        self._down_until = 0.0
        self._last_warning = -math.inf

    @classmethod
    def from_url(
        cls,
        url: str,
        rate: float,
        capacity: int,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        *,
        max_connections: int = 32,
    ) -> RedisLimiter:
        # A blocking pool: a burst of concurrent requests queues for a connection (up to 0.5 s)
        # instead of failing; short timeouts so a slow Redis cannot stall the collector.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=0.5,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
        )
        return cls(aioredis.Redis(connection_pool=pool), rate, capacity, key_prefix)

    async def acquire(self, key: str, cost: int) -> float:
        if time.monotonic() < self._down_until:
            return 0.0
        args = (*self._args, str(cost))
        name = self.prefix + key
        try:
            try:
                raw = await self.client.evalsha(_LUA_SHA, 1, name, *args)
            except NoScriptError:  # script cache flushed or a fresh server: EVAL loads it
                raw = await self.client.eval(_LUA, 1, name, *args)
        except (RedisError, OSError) as exc:
            self._fail_open(exc)
            return 0.0
        return float(raw)

    def _fail_open(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._down_until = now + self._retry_after_failure
        if now - self._last_warning >= 30.0:
            self._last_warning = now
            log.warning(
                "rate limiter: Redis unavailable (%s); allowing requests unlimited until it is back",
                type(exc).__name__,
            )

    async def aclose(self) -> None:
        await self.client.aclose()


def build_rate_limiter(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.monotonic,
    key_prefix: str = DEFAULT_KEY_PREFIX,
) -> NoLimit | InProcessLimiter | RedisLimiter:
    """The limiter the settings ask for: none, in-process, or Redis-backed."""
    rate = settings.rate_limit_events_per_second
    if rate == 0:
        return NoLimit()
    capacity = settings.rate_limit_burst_events
    if capacity < MAX_BATCH_EVENTS:
        raise SettingsError(
            f"PULSE_RATE_LIMIT_BURST_EVENTS={capacity} is below one full batch "
            f"({MAX_BATCH_EVENTS} events): such a batch could never be accepted; "
            f"set it to at least {MAX_BATCH_EVENTS}"
        )
    if settings.redis_url:
        return RedisLimiter.from_url(settings.redis_url, rate, capacity, key_prefix)
    return InProcessLimiter(rate, capacity, clock)
