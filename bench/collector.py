"""Collector ingest benchmark (issue 3): the real collector as a subprocess, measured with one client.

In one run, with the same load generator (:mod:`bench.loadgen`) and batches of 100 simulator events:

1. no-op baseline: closed-loop throughput on ``POST /v1/noop`` of the same server stack (the
   collector's own no-op route when ``create_app(settings, enable_noop=True)`` exists, otherwise
   :mod:`bench.noop_app`);
2. the collector: closed-loop accepted throughput on ``/v1/batch``, then the time to drain the
   backlog to Delta;
3. open loop at ``rate_events`` events/s: ack latency (from the intended send time), event → visible
   in ``bronze/events`` (a poller reads only new Delta files' ``message_id``), event → live
   subscriber (``GET /v1/live/events`` SSE, when the collector has it);
4. with ``--workers 2`` too when the collector CLI offers it;

plus the collector's peak RSS (sampled, children included) and server vs client CPU seconds.
``profile=True`` adds a closed-loop run of a collector under cProfile and prints its hot spots.
"""

from __future__ import annotations

import contextlib
import os
import pstats
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import loadgen

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
BATCH = 100
GOALS = {
    "throughput": "≥ 100,000",
    "ack_p99": "≤ 50 (at 10,000 events/s)",
    "delta_p99": "≤ 10",
    "live_p99": "≤ 1",
}


_PY = [sys.executable]


def _at(port: int) -> list[str]:
    return ["--host", HOST, "--port", str(port)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


# ---- the server under test ----------------------------------------------------------------------
class Server:
    """A server subprocess in its own session, with RSS sampling and CPU accounting."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], port: int, log_dir: Path):
        self.name = name
        self.port = port
        self.url = f"http://{HOST}:{port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args,
                cwd=PROJECT_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_default_signals,
            )
        self.ps = psutil.Process(self.process.pid)
        self.peak_rss = 0
        self._stop_sampling = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _procs(self) -> list[psutil.Process]:
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _sample(self) -> None:
        while not self._stop_sampling.wait(0.1):
            rss = 0
            for p in self._procs():
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
            self.peak_rss = max(self.peak_rss, rss)

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self._procs():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def cpu_split(self) -> dict[str, float]:
        """CPU seconds per thread kind: the event loop (main thread), other Python threads
        (flusher, live hub: OS name "python"), and native threads by name (delta-rs/tokio)."""
        out: dict[str, float] = {}
        for p in self._procs():
            with contextlib.suppress(psutil.Error):
                for t in p.threads():
                    if t.id == p.pid:
                        kind = "event loop"
                    else:
                        try:
                            kind = Path(f"/proc/{p.pid}/task/{t.id}/comm").read_text().strip()
                        except OSError:
                            kind = "?"
                        kind = "python threads" if kind.startswith("python") else kind
                    out[kind] = out.get(kind, 0.0) + t.user_time + t.system_time
        return out

    def wait_ready(self, timeout: float = 60.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=2.0).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.2)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{self.name} did not become healthy ({self.log_path}):\n{tail}")

    def readiness(self) -> dict[str, Any]:
        """``/ready`` (``wal_pending``, ``flush_lag_seconds``); 503 still has a JSON body."""
        try:
            return httpx.get(self.url + "/ready", timeout=5.0).json()
        except (httpx.HTTPError, ValueError):
            return {}

    def stop(self, timeout: float = 60.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._stop_sampling.set()


def _collector_supports(flag: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "lake.collector", "--help"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return flag in out


def _live_available(url: str, write_key: str) -> bool:
    try:
        with httpx.stream(
            "GET", url + "/v1/live/events", auth=(write_key, ""), timeout=3.0
        ) as response:
            return response.status_code == 200 and "event-stream" in response.headers.get(
                "content-type", ""
            )
    except httpx.HTTPError:
        return False


# ---- consumers: Delta poller and live subscriber --------------------------------------------------
_MID = re.compile(rb'"(?:messageId|message_id)"\s*:\s*"(bench-[^"]+)"')


class _Matcher:
    """Maps message ids of one load run to their send times; collects latencies (s)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.seen: dict[str, float] = {}  # message id → monotonic time seen
        self.lock = threading.Lock()

    def saw(self, message_id: str, at: float) -> None:
        if message_id[6:10] == self.tag:
            with self.lock:
                self.seen.setdefault(message_id, at)

    def latencies(self, result: loadgen.LoadResult) -> list[float]:
        out = []
        with self.lock:
            items = list(self.seen.items())
        for mid, at in items:
            parsed = loadgen.parse_message_id(mid)
            if parsed is None:
                continue
            sent = result.send_time(parsed[1], parsed[2])
            if sent is not None:
                out.append(at - sent)
        return out


class DeltaPoller(threading.Thread):
    """Polls a Delta table; reads ``message_id`` of files it has not seen yet."""

    def __init__(self, table_path: Path, matcher: _Matcher, interval: float = 0.2) -> None:
        super().__init__(daemon=True, name="delta-poller")
        self.path = table_path
        self.matcher = matcher
        self.interval = interval
        self.stop_event = threading.Event()
        self.known: set[str] = set()
        self.polls = 0
        self.errors = 0
        self._dt = None

    def _files(self) -> list[str]:
        from deltalake import DeltaTable

        if self._dt is None:
            if not DeltaTable.is_deltatable(str(self.path)):
                return []
            self._dt = DeltaTable(str(self.path))
        else:
            self._dt.update_incremental()
        return self._dt.file_uris()

    def prime(self) -> None:
        """Mark every file already there as known (events of earlier phases)."""
        self.known.update(self._files())

    def run(self) -> None:
        import pyarrow.parquet as pq

        while not self.stop_event.wait(self.interval):
            try:
                files = self._files()
            except Exception:  # table mid-creation, transient read errors
                self.errors += 1
                continue
            now = time.monotonic()
            self.polls += 1
            for uri in files:
                if uri in self.known:
                    continue
                self.known.add(uri)
                path = uri.removeprefix("file://")
                ids = pq.read_table(path, columns=["message_id"]).column(0).to_pylist()
                for mid in ids:
                    if mid and mid.startswith("bench-"):
                        self.matcher.saw(mid, now)


class LiveSubscriber(threading.Thread):
    """Reads the SSE stream and notes when each bench message id arrives."""

    def __init__(self, url: str, write_key: str, matcher: _Matcher) -> None:
        super().__init__(daemon=True, name="live-subscriber")
        self.url = url + "/v1/live/events"
        self.auth = (write_key, "")
        self.matcher = matcher
        self.stop_event = threading.Event()
        self.connected = threading.Event()
        self.error: str | None = None
        self.lines = 0

    def run(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as client,
                client.stream("GET", self.url, auth=self.auth) as response,
            ):
                if response.status_code != 200:
                    self.error = f"HTTP {response.status_code}"
                    return
                self.connected.set()
                rest = b""
                for chunk in response.iter_raw():
                    now = time.monotonic()
                    data = rest + chunk
                    cut = data.rfind(b"\n") + 1  # an id may straddle two chunks
                    data, rest = data[:cut], data[cut:]
                    for m in _MID.finditer(data):
                        self.matcher.saw(m.group(1).decode(), now)
                    self.lines += 1
                    if self.stop_event.is_set():
                        return
        except httpx.HTTPError as exc:
            if not self.stop_event.is_set():
                self.error = f"{type(exc).__name__}: {exc}"


# ---- workload -----------------------------------------------------------------------------------
def _messages(seed: int = 11) -> list[dict[str, Any]]:
    """Realistic simulator messages, timestamped "just now" as a live app would send them."""
    from lake.simulator import SimConfig, generate_world

    world = generate_world(
        SimConfig(users=200, days=7, seed=seed, duplicate_rate=0, late_rate=0, malformed_rate=0)
    )
    now = datetime.now(UTC)
    out = []
    for i, msg in enumerate(world.messages):
        stamp = now - timedelta(milliseconds=200 + (i * 37) % 5000)
        msg["timestamp"] = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        out.append(msg)
    return out


def _diff(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    diff = {k: round(v - before.get(k, 0.0), 1) for k, v in after.items()}
    return {k: v for k, v in sorted(diff.items(), key=lambda kv: -kv[1]) if v >= 0.1}


def _stats(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": loadgen.percentile(values, 50),
        "p99": loadgen.percentile(values, 99),
        "max": max(values) if values else None,
    }


def _closed(server: Server, templates, duration: float, connections: int, processes: int):
    cpu0 = server.cpu_seconds()
    result = loadgen.run(
        HOST,
        server.port,
        templates,
        connections=connections,
        duration=duration,
        processes=processes,
    )
    # the server also worked during the client's warm-up/start: count the whole span
    server_cpu = server.cpu_seconds() - cpu0
    return result, server_cpu


def _pick_client(server: Server, templates, connections: int) -> tuple[int, dict[int, float]]:
    """Which client drives more requests/s here: one asyncio process or two?"""
    seen = {}
    for processes in (1, 2):
        result, _ = _closed(server, templates, 2.0, connections, processes)
        seen[processes] = result.requests_per_s
    return max(seen, key=seen.get), seen


def _wait_drained(server: Server, timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if server.readiness().get("wal_pending") == 0:
            return time.monotonic() - started
        time.sleep(0.25)
    return None


def _profile_collector(
    env: dict[str, str], messages, write_key: str, tmp: Path, duration: float, connections: int
) -> str:
    port = _free_port()
    prof = tmp / "collector.prof"
    server = Server(
        "collector-profiled",
        [*_PY, "-m", "bench.profile_collector", str(prof), *_at(port)],
        env,
        port,
        tmp / "logs",
    )
    server.wait_ready()
    templates = loadgen.make_templates(
        messages, host=HOST, port=port, path="/v1/batch", write_key=write_key
    )
    try:
        result, _ = _closed(server, templates, duration, connections, 1)
    finally:
        server.stop()
    out = [f"profiled collector: {result.events_per_s:,.0f} events/s under cProfile"]
    if prof.exists():
        import io

        buf = io.StringIO()
        pstats.Stats(str(prof), stream=buf).sort_stats("tottime").print_stats(25)
        out.append(buf.getvalue())
    return "\n".join(out)


def run(
    *,
    duration: float = 10.0,
    latency_seconds: float = 25.0,
    rate_events: int = 10_000,
    connections: int = 32,
    profile: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Run every phase; returns (params, metrics rows, details for printing)."""
    from bench.noop_app import collector_has_noop
    from core.metadata import engine_for
    from core.settings import Settings
    from lake.sources import create_source

    details: dict[str, Any] = {}
    metrics: list[dict[str, Any]] = []
    began = time.monotonic()
    load_before = round(os.getloadavg()[0], 2)
    messages = _messages()

    with tempfile.TemporaryDirectory(prefix="pulse-bench-collector-") as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "data"
        settings = Settings(data_dir=data, collector_id="bench")
        _source, write_key = create_source(engine_for(settings), "bench-collector")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
        env.update(settings.subprocess_env())
        env.update({"PULSE_COLLECTOR_ID": "bench", "DO_NOT_TRACK": "1"})
        logs = tmp / "logs"

        # 1. no-op baseline (same stack, same client) --------------------------------------------
        port = _free_port()
        noop_env = dict(env)
        noop_env["PULSE_DATA_DIR"] = str(tmp / "noop-data")
        noop_env["PULSE_COLLECTOR_ID"] = "noop"
        if _collector_supports("--enable-noop"):
            noop_kind = "collector --enable-noop"
            noop_args = [*_PY, "-m", "lake.collector", *_at(port), "--enable-noop"]
        elif collector_has_noop():
            noop_kind = "create_app(enable_noop=True)"
            noop_args = [*_PY, "-m", "bench.noop_app", "--port", str(port), "--collector"]
        else:
            noop_kind = "bench.noop_app"
            noop_args = [*_PY, "-m", "bench.noop_app", "--port", str(port)]
        noop = Server("noop", noop_args, noop_env, port, logs)
        noop.wait_ready()
        noop_templates = loadgen.make_templates(
            messages, host=HOST, port=port, path="/v1/noop", write_key=write_key
        )
        processes, tried = _pick_client(noop, noop_templates, connections)
        details["client choice (requests/s on no-op)"] = {
            f"{p} process(es)": round(v) for p, v in tried.items()
        }
        noop_result, noop_cpu = _closed(noop, noop_templates, duration, connections, processes)
        noop.stop()
        details["no-op"] = noop_result.summary()

        # 2. the collector: closed-loop throughput ----------------------------------------------
        port = _free_port()
        collector = Server(
            "collector",
            [*_PY, "-m", "lake.collector", *_at(port)],
            env,
            port,
            logs,
        )
        startup = collector.wait_ready()
        templates = loadgen.make_templates(
            messages, host=HOST, port=port, path="/v1/batch", write_key=write_key
        )
        loadgen.run(HOST, port, templates, connections=4, duration=1.0)  # warm caches / imports
        split0 = collector.cpu_split()
        thr, thr_cpu = _closed(collector, templates, duration, connections, processes)
        split1 = collector.cpu_split()
        details["collector CPU s by thread in throughput run"] = _diff(split0, split1)
        details["collector /v1/batch"] = thr.summary()
        drain = _wait_drained(collector, timeout=60.0)

        # 3. open loop: ack latency, Delta visibility, live ------------------------------------
        tag = loadgen.new_tag()
        delta_match, live_match = _Matcher(tag), _Matcher(tag)
        poller = DeltaPoller(settings.table_path("bronze", "events"), delta_match)
        with contextlib.suppress(Exception):
            poller.prime()
        live_ok = _live_available(collector.url, write_key)
        subscriber = None
        if live_ok:
            subscriber = LiveSubscriber(collector.url, write_key, live_match)
            subscriber.start()
            subscriber.connected.wait(5.0)
        poller.start()
        open_cpu0 = collector.cpu_seconds()
        split0 = collector.cpu_split()
        lat = loadgen.run(
            HOST,
            port,
            templates,
            connections=16,
            duration=latency_seconds,
            rate=rate_events / BATCH,
            tag=tag,
        )
        open_cpu = collector.cpu_seconds() - open_cpu0
        split1 = collector.cpu_split()
        details["collector CPU s by thread at 10k events/s"] = _diff(split0, split1)
        details["collector open loop"] = lat.summary()
        expected = lat.sent * BATCH
        deadline = time.monotonic() + 20.0
        while len(delta_match.seen) < expected and time.monotonic() < deadline:
            time.sleep(0.25)
        poller.stop_event.set()
        if subscriber is not None:
            time.sleep(1.0)
            subscriber.stop_event.set()
        delta_lat = _stats(delta_match.latencies(lat))
        live_lat = _stats(live_match.latencies(lat)) if live_ok else None
        collector.stop()
        peak_rss = collector.peak_rss

        # 4. workers=2 when the CLI has it ----------------------------------------------------
        workers2 = None
        if _collector_supports("--workers"):
            port = _free_port()
            env2 = dict(env)
            env2["PULSE_COLLECTOR_ID"] = "bench2"
            server2 = Server(
                "collector-workers2",
                [*_PY, "-m", "lake.collector", *_at(port), "--workers", "2"],
                env2,
                port,
                logs,
            )
            try:
                server2.wait_ready()
                t2 = loadgen.make_templates(
                    messages, host=HOST, port=port, path="/v1/batch", write_key=write_key
                )
                loadgen.run(HOST, port, t2, connections=4, duration=1.0)
                workers2, _ = _closed(server2, t2, duration, connections, processes)
                details["collector --workers 2"] = workers2.summary()
            except RuntimeError as exc:
                details["collector --workers 2"] = f"failed to start: {exc}"[:500]
            finally:
                server2.stop()
            details["workers2 peak RSS MiB"] = round(server2.peak_rss / 2**20, 1)

        profile_text = None
        if profile:
            env_p = dict(env)
            env_p["PULSE_COLLECTOR_ID"] = "benchprof"
            profile_text = _profile_collector(
                env_p, messages, write_key, tmp, min(duration, 8.0), connections
            )
        elapsed = time.monotonic() - began

    ratio = thr.events_per_s / noop_result.events_per_s if noop_result.events_per_s else 0.0
    non200 = sum(n for s, n in thr.status_counts.items() if s != 200) + sum(
        n for s, n in lat.status_counts.items() if s != 200
    )
    metrics += [
        {
            "metric": "accepted throughput, /v1/batch",
            "value": thr.events_per_s,
            "unit": "events/s",
            "goal": GOALS["throughput"],
        },
        {
            "metric": f"no-op throughput ({noop_kind})",
            "value": noop_result.events_per_s,
            "unit": "events/s",
        },
        {"metric": "collector / no-op", "value": ratio, "unit": "ratio"},
        {
            "metric": "ack latency p50 at 10k events/s",
            "value": lat.percentile(50) or 0.0,
            "unit": "ms",
        },
        {
            "metric": "ack latency p99 at 10k events/s",
            "value": lat.percentile(99) or 0.0,
            "unit": "ms",
            "goal": GOALS["ack_p99"],
        },
        {
            "metric": "ack latency max at 10k events/s",
            "value": max(lat.latencies_ms or [0.0]),
            "unit": "ms",
        },
        {
            "metric": "open loop achieved",
            "value": lat.events_per_s,
            "unit": "events/s",
            "goal": f"{rate_events:,}",
        },
        {"metric": "event → visible in Delta p50", "value": delta_lat["p50"] or 0.0, "unit": "s"},
        {
            "metric": "event → visible in Delta p99",
            "value": delta_lat["p99"] or 0.0,
            "unit": "s",
            "goal": GOALS["delta_p99"],
        },
        {
            "metric": "events matched in Delta",
            "value": len(delta_match.seen),
            "unit": "events",
            "goal": f"{expected:,} sent",
        },
    ]
    if live_lat is not None:
        metrics += [
            {"metric": "event → live subscriber p50", "value": live_lat["p50"] or 0.0, "unit": "s"},
            {
                "metric": "event → live subscriber p99",
                "value": live_lat["p99"] or 0.0,
                "unit": "s",
                "goal": GOALS["live_p99"],
            },
            {
                "metric": "events matched live",
                "value": len(live_match.seen),
                "unit": "events",
                "goal": f"{expected:,} sent",
            },
        ]
    else:
        metrics.append(
            {
                "metric": "event → live subscriber p99 (GET /v1/live/events not available)",
                "value": 0.0,
                "unit": "s",
                "goal": GOALS["live_p99"],
            }
        )
    metrics += [
        {"metric": "peak RSS of the collector", "value": round(peak_rss / 2**20, 1), "unit": "MiB"},
        {
            "metric": "collector CPU during throughput run",
            "value": thr_cpu / (duration + 1.1),
            "unit": "cores",
        },
        {
            "metric": "client CPU during throughput run",
            "value": thr.client_cpu_share,
            "unit": "cores",
        },
        {
            "metric": "collector CPU at 10k events/s",
            "value": open_cpu / (latency_seconds + 0.6),
            "unit": "cores",
        },
        {
            "metric": "no-op server CPU / client CPU",
            "value": noop_cpu / (duration + 1.1),
            "unit": "cores",
            "goal": f"client {noop_result.client_cpu_share:.2f} cores",
        },
        {
            "metric": "backlog drained to Delta after throughput run",
            "value": drain if drain is not None else -1.0,
            "unit": "s",
        },
        {"metric": "non-200 responses", "value": non200, "unit": "requests", "goal": "0"},
    ]
    if workers2 is not None:
        metrics.append(
            {
                "metric": "accepted throughput, --workers 2",
                "value": workers2.events_per_s,
                "unit": "events/s",
                "goal": GOALS["throughput"],
            }
        )
    params = {
        "batch": BATCH,
        "connections": connections,
        "client_processes": processes,
        "throughput_seconds": duration,
        "latency_rate_events_per_s": rate_events,
        "latency_seconds": latency_seconds,
        "flush": "defaults (5 s / 50,000 events)",
        "live": "available" if live_ok else "not available",
        "startup_s": round(startup, 1),
        "total_s": round(elapsed, 1),
        # other work on this 2-core box skews everything: load average before/after the run
        "load_avg_1m": f"{load_before} → {round(os.getloadavg()[0], 2)}",
    }
    details["status counts"] = {"throughput": thr.status_counts, "open loop": lat.status_counts}
    if thr.error_sample or lat.error_sample:
        details["first error response"] = (thr.error_sample or lat.error_sample)[:300]
    if subscriber is not None and subscriber.error:
        details["live subscriber error"] = subscriber.error
    details["delta poller"] = {"polls": poller.polls, "errors": poller.errors}
    if profile_text:
        details["profile"] = profile_text
    return params, metrics, details


def print_table(metrics: list[dict[str, Any]], details: dict[str, Any]) -> None:
    for key, value in details.items():
        if key == "profile":
            continue
        print(f"  {key}: {value}")
    print(f"  {'metric':<52} {'value':>14}  {'unit':<9} goal")
    for row in metrics:
        value = row["value"]
        shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
        print(f"  {row['metric']:<52} {shown:>14}  {row['unit']:<9} {row.get('goal', '')}")
    if "profile" in details:
        print(details["profile"])
