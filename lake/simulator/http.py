"""Send a world's messages to a Segment-compatible collector, as the app would."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

MAX_BATCH_BYTES = 480_000  # Segment's limit is 500 KB per batch request
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class SendReport:
    """What happened while sending. ``sent`` counts messages of batches acknowledged 2xx."""

    sent: int = 0
    batches: int = 0
    http_errors: int = 0  # non-2xx responses, including ones later retried successfully
    retries: int = 0
    transport_errors: int = 0
    failed_batches: int = 0
    failed_messages: int = 0
    status_counts: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.failed_batches == 0


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _batches(messages: Iterable[dict[str, Any]], batch_size: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    size = 0
    for msg in messages:
        n = len(orjson.dumps(msg))
        if batch and (len(batch) >= batch_size or size + n > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(msg)
        size += n
    if batch:
        yield batch


def _retry_after(response: httpx.Response, attempt: int, backoff: float) -> float:
    header = response.headers.get("Retry-After")
    if header:
        try:
            return min(30.0, max(0.0, float(header)))
        except ValueError:
            pass
    return min(30.0, backoff * (2**attempt))


def _post(
    client: httpx.Client,
    url: str,
    auth: tuple[str, str],
    batch: list[dict],
    report: SendReport,
    max_retries: int,
    backoff: float,
) -> None:
    for attempt in range(max_retries + 1):
        sent_at = now_iso()
        body = orjson.dumps({"batch": [{**m, "sentAt": sent_at} for m in batch], "sentAt": sent_at})
        try:
            response = client.post(
                url, content=body, auth=auth, headers={"Content-Type": "application/json"}
            )
        except httpx.TransportError:
            with report._lock:
                report.transport_errors += 1
            if attempt < max_retries:
                with report._lock:
                    report.retries += 1
                time.sleep(min(30.0, backoff * (2**attempt)))
                continue
            break
        status = response.status_code
        with report._lock:
            report.status_counts[status] = report.status_counts.get(status, 0) + 1
            if 200 <= status < 300:
                report.sent += len(batch)
                return
            report.http_errors += 1
        if status in RETRY_STATUSES and attempt < max_retries:
            with report._lock:
                report.retries += 1
            time.sleep(_retry_after(response, attempt, backoff))
            continue
        break
    with report._lock:
        report.failed_batches += 1
        report.failed_messages += len(batch)


def send_http(
    messages: Iterable[dict[str, Any]],
    url: str = "http://127.0.0.1:8080",
    write_key: str = "",
    batch_size: int = 100,
    *,
    concurrency: int = 1,
    max_retries: int = 5,
    backoff: float = 0.5,
    timeout: float = 30.0,
    client: httpx.Client | None = None,
) -> SendReport:
    """POST ``messages`` to ``{url}/v1/batch`` in batches, as a Segment SDK does.

    HTTP Basic auth with the write key as username and an empty password; ``sentAt`` is set to
    the send time on the batch and on each message (the input dicts are not modified). 429 and
    5xx are retried with exponential backoff (honouring ``Retry-After``). ``concurrency`` > 1
    sends batches from that many threads (order across batches is then not guaranteed).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    endpoint = url.rstrip("/")
    if not endpoint.endswith("/v1/batch"):
        endpoint += "/v1/batch"
    auth = (write_key, "")
    report = SendReport()
    began = time.perf_counter()
    own = client is None
    http = client or httpx.Client(
        timeout=timeout, limits=httpx.Limits(max_connections=max(concurrency, 1) * 2)
    )
    try:
        batches = _batches(messages, batch_size)
        if concurrency == 1:
            for batch in batches:
                report.batches += 1
                _post(http, endpoint, auth, batch, report, max_retries, backoff)
        else:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                pending: set[Future] = set()
                for batch in itertools.chain(batches):
                    report.batches += 1
                    pending.add(
                        pool.submit(
                            _post, http, endpoint, auth, batch, report, max_retries, backoff
                        )
                    )
                    if len(pending) >= concurrency * 2:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in done:
                            fut.result()
                for fut in pending:
                    fut.result()
    finally:
        if own:
            http.close()
    report.seconds = time.perf_counter() - began
    return report
