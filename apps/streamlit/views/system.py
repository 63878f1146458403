"""System performance: is the platform healthy, fast and up, and what needs on-call now?

API latency and errors by endpoint (the ``sys_api_latency_hourly`` mart), ingestion throughput
and lag (``sys_pipeline_health`` and the collector's live ``/metrics``), uptime against 99.5 %
(the health probes), the host now and its history, Dagster runs, the dashboards' own query
performance (the query log), the freshness of every published mart, and the alerts on-call
acknowledges and resolves here. Marts come through the query layer; the platform's own tables
through :mod:`analytics.system_tables`; the sums and percentiles are :mod:`analytics.operations`.

Two clocks: the API and pipeline sections follow the date range (event time, as published);
the operations sections (uptime, host, runs, queries) follow the operations window, counted
back from now. In production they coincide; a replayed demo world has its events in the past.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from analytics import charts, summarize
from analytics.operations import (
    UPTIME_DEFINITION,
    UPTIME_TARGET,
    latency_rollup,
    rates,
    run_summary,
    uptime,
    worst_endpoints,
)
from analytics.periods import COMPARE_MODES, relative_change, shifted_onto
from apps.streamlit.alerts_panel import active_alerts, alerts_panel, resolved_alerts
from apps.streamlit.components.annotations import chart_notes
from apps.streamlit.components.layout import (
    breadcrumb,
    data_table,
    empty_state,
    page_header,
    section_tabs,
    show_chart,
)
from apps.streamlit.components.page_tools import page_tools
from apps.streamlit.components.state import global_filters
from apps.streamlit.platform_sources import (
    dagster_runs,
    host_now,
    scrape_collector,
    settings,
    system_tables,
)
from apps.streamlit.queries import data_bounds, query_layer

PAGE = "system"
WINDOWS = {"24h": ("Last 24 hours", 1), "7d": ("Last 7 days", 7), "30d": ("Last 30 days", 30)}
MEASURES = {
    "p95_latency_ms": ("p95 latency", "ms"),
    "p50_latency_ms": ("p50 latency", "ms"),
    "p99_latency_ms": ("p99 latency", "ms"),
    "error_rate": ("Error rate (5xx)", "percent"),
    "requests": ("Requests", "count"),
}
LIVE_REFRESH = "15s"
QUERY_LABELS = {
    "p50_ms": "p50",
    "p95_ms": "p95",
    "max_ms": "slowest",
    "cache_hit_rate": "cache hits",
}


# ---- small helpers -----------------------------------------------------------------------------
def duration(seconds: float | None) -> str:
    """``45 s``, ``12 min``, ``3.5 h``, ``2.1 days``."""
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def lag_scale(max_seconds: float | None) -> tuple[float, str]:
    """A divisor and unit name that keep a lag series readable."""
    if not max_seconds or max_seconds < 600:
        return 1.0, "seconds"
    if max_seconds < 3 * 3600:
        return 60.0, "minutes"
    if max_seconds < 3 * 86400:
        return 3600.0, "hours"
    return 86400.0, "days"


def time_format_for(times: pl.Series) -> str:
    """Hours on the axis when the points span less than two days, else days."""
    if times.len() and (times.max() - times.min()) < dt.timedelta(days=2):  # type: ignore[operator]
        return "%H:%M"
    return "%b %d"


def stat(
    label: str,
    value: str,
    *,
    key: str,
    delta: str | None = None,
    delta_color: str = "normal",
    help: str | None = None,
    trend: list[float] | None = None,
    note: str | None = None,
) -> None:
    """One status card (bordered, like the KPI cards)."""
    with st.container(border=True, key=f"stat_{key}"):
        st.metric(
            label,
            value,
            delta=delta,
            delta_color=delta_color,  # type: ignore[arg-type]
            help=help,
            chart_data=trend or None,
            chart_type="area",
        )
        if note:
            st.caption(note)


def change_text(current: float | None, previous: float | None) -> str | None:
    """The change against the comparison period, when the data covers all of that period."""
    if not comparable:
        return None
    change = relative_change(current, previous)
    return None if change is None else charts.format_change(change)


# ---- frame ---------------------------------------------------------------------------------------
ql = query_layer()
tables = system_tables()
now = dt.datetime.now(dt.UTC)
bounds = data_bounds(ql)
page_header(
    "System performance",
    "Is the platform healthy, fast and up — and what needs on-call attention now?",
    bounds[2] if bounds else None,
)
if bounds is None:
    empty_state(
        "No published data yet, so no API or pipeline history: run `pulse materialize` "
        "(or `make demo`). Alerts and runs are below."
    )
    first_day = last_day = now.date()
else:
    first_day, last_day = bounds[0], bounds[1]
view = global_filters(first_day, last_day, {})
breadcrumb(view)
page_tools(view, PAGE)
period, comparison = view.effective_period, view.comparison
# A comparison period the data does not fully cover would make every total look like growth.
comparable = comparison is not None and bounds is not None and comparison.start >= first_day
window_key = (
    st.segmented_control(
        "Operations window",
        options=list(WINDOWS),
        default="7d",
        format_func=lambda k: WINDOWS[k][0],
        key="window",
        bind="query-params",
        help="Uptime, host, runs and query performance: counted back from now (wall clock).",
    )
    or "7d"
)
window_label, window_days = WINDOWS[window_key]
since = now - dt.timedelta(days=window_days)
st.caption(
    f"API and pipeline: {view.describe()} (event time, published). "
    f"Uptime, host, runs and dashboard queries: {window_label.lower()} (wall clock)."
)


# ---- data ----------------------------------------------------------------------------------------
def latency_rows(start: dt.date, end: dt.date) -> pl.DataFrame:
    if bounds is None:
        return pl.DataFrame()
    return ql.table("sys_api_latency_hourly", between=("request_date", start, end), page=PAGE).frame


hourly = latency_rows(period.start, period.end)
hourly_before = latency_rows(comparison.start, comparison.end) if comparison else None
total = latency_rollup(hourly) if hourly.height else None
total_before = (
    latency_rollup(hourly_before) if hourly_before is not None and hourly_before.height else None
)
# The cards' sparklines: per day, or per hour when the range is a single day.
trend_by = "request_hour" if period.start == period.end else "request_date"
daily = latency_rollup(hourly, [trend_by]).sort(trend_by) if hourly.height else None


def total_of(frame: pl.DataFrame | None, column: str) -> float | None:
    if frame is None or frame.is_empty():
        return None
    value = frame[column][0]
    return None if value is None else float(value)


probes = tables.probes(since)
up = uptime(probes, since, now)
alerts = active_alerts()
runs = dagster_runs(str(settings().dagster_home))
runs_window = runs.filter(pl.col("created_at") >= since) if runs is not None else None
log = tables.query_log(since.date())
log = log.filter(pl.col("logged_at") >= since)
queries = summarize(log)

# ---- status --------------------------------------------------------------------------------------
st.subheader("Status")
grid = st.grid(4, key="status_cards")
with grid:
    platform_uptime = up.platform
    state = None
    if platform_uptime is not None:
        state = "On target" if platform_uptime >= UPTIME_TARGET else "Below target"
    stat(
        "Platform uptime",
        charts.format_value(platform_uptime, "percent") if platform_uptime is not None else "–",
        key="uptime",
        help=UPTIME_DEFINITION,
        note=(
            f"{state} (99.5 %) · {up.rounds:,} probe minutes, "
            f"coverage {charts.format_value(up.coverage, 'percent')}"
            if platform_uptime is not None
            else f"No health probes in the {window_label.lower()}"
        ),
    )
with grid:
    severe = sum(1 for v in alerts if v.alert.severity in ("critical", "error"))
    stat(
        "Open alerts",
        f"{len(alerts):,}",
        key="alerts",
        note=f"{severe} critical or error" if alerts else "Nothing needs attention",
        help="Open and acknowledged alerts (the store of `pulse alerts`); act on them below.",
    )
with grid:
    p95 = total_of(total, "p95_latency_ms")
    stat(
        "API p95 latency",
        charts.format_value(p95, "ms"),
        key="api_p95",
        delta=change_text(p95, total_of(total_before, "p95_latency_ms")),
        delta_color="inverse",
        trend=[v for v in daily["p95_latency_ms"].to_list() if v is not None]
        if daily is not None
        else None,
        help="Request-weighted mean of the hourly p95 of every endpoint over the date range "
        "(hourly percentiles cannot be re-aggregated exactly).",
    )
with grid:
    errors = total_of(total, "error_rate")
    stat(
        "API error rate",
        charts.format_value(errors, "percent"),
        key="api_errors",
        delta=change_text(errors, total_of(total_before, "error_rate")),
        delta_color="inverse",
        trend=[v for v in daily["error_rate"].to_list() if v is not None]
        if daily is not None
        else None,
        help="Responses with status ≥ 500 / requests, over the date range (exact).",
    )
with grid:
    requests = total_of(total, "requests")
    stat(
        "API requests",
        charts.format_value(requests, "count", compact=True),
        key="api_requests",
        delta=change_text(requests, total_of(total_before, "requests")),
        delta_color="off",
        trend=[float(v) for v in daily["requests"].to_list()] if daily is not None else None,
    )
with grid:
    if runs is None or runs.is_empty():
        stat("Last pipeline run", "–", key="last_run", note="No Dagster run yet")
    else:
        last = runs.row(0, named=True)
        age = (now - last["created_at"]).total_seconds()
        stat(
            "Last pipeline run",
            last["status"].title(),
            key="last_run",
            note=f"{last['job']} · {duration(age)} ago · took {duration(last['duration_s'])}",
        )
with grid:
    published = bounds[2].published_at if bounds else None
    if published:
        published_at = dt.datetime.fromisoformat(str(published).replace("Z", "+00:00"))
        stat(
            "Gold publication age",
            duration((now - published_at).total_seconds()),
            key="publication",
            note=f"Published {published_at:%b %d %H:%M} UTC",
            help="Time since the marts every dashboard reads were last published.",
        )
    else:
        stat("Gold publication age", "–", key="publication", note="Nothing published yet")
with grid:
    overall_p95 = (
        float(log["duration_ms"].quantile(0.95, "linear")) if log.height else None  # type: ignore[arg-type]
    )
    stat(
        "Dashboard query p95",
        charts.format_value(overall_p95, "ms"),
        key="query_p95",
        note=(
            f"{queries.queries:,} queries · cache hits "
            f"{charts.format_value(queries.cache_hit_rate, 'percent')}"
            if queries.queries
            else f"No queries in the {window_label.lower()}"
        ),
    )

# ---- alerts --------------------------------------------------------------------------------------
st.subheader("Alerts")
st.caption("Open and acknowledged alerts, newest first — the same store as `pulse alerts`.")
alerts_panel(alerts, actions=True, key="system")
with st.expander("Recently resolved (incident history)"):
    resolved = resolved_alerts(50)
    if not resolved:
        st.caption("No resolved alerts yet.")
    else:
        history = pl.DataFrame(
            [
                {
                    "alert": f"#{v.id}",
                    "severity": v.alert.severity,
                    "what": v.rule or v.alert.source,
                    "where": v.target or v.alert.asset_key or "",
                    "raised": v.alert.created_at,
                    "to_acknowledge_min": v.time_to_acknowledge.total_seconds() / 60
                    if v.time_to_acknowledge
                    else None,
                    "to_resolve_min": (v.resolved_at - v.alert.created_at).total_seconds() / 60
                    if v.resolved_at
                    else None,
                }
                for v in resolved
            ]
        )
        mttr = history["to_resolve_min"].median()
        mtta = history["to_acknowledge_min"].median()
        st.caption(
            f"Median time to acknowledge {charts.format_value(mtta, 'minutes')}, "
            f"to resolve {charts.format_value(mttr, 'minutes')} (last {history.height})."
        )
        data_table(
            history,
            key="resolved_table",
            formats={
                "raised": "datetime",
                "to_acknowledge_min": "minutes",
                "to_resolve_min": "minutes",
            },
            labels={
                "raised": "raised (UTC)",
                "to_acknowledge_min": "to acknowledge",
                "to_resolve_min": "to resolve",
            },
        )

# ---- live ----------------------------------------------------------------------------------------
st.subheader("Live: collector and host")


@st.fragment(run_every=LIVE_REFRESH)
def live_panel() -> None:
    """The collector's /metrics and the host, now (refreshed every few seconds)."""
    scrape = scrape_collector()
    previous = st.session_state.get("collector_scrape")
    st.session_state["collector_scrape"] = scrape
    host, counters = host_now(st.session_state.get("net_counters"))
    st.session_state["net_counters"] = counters
    collector, machine = st.columns(2)
    with collector:
        st.markdown("**Collector, live**")
        if scrape.snapshot is None:
            st.warning(
                f"The collector is not running or not reachable at `{scrape.url}` "
                f"({scrape.error}). Start it with `pulse serve` (or `make demo`); the history "
                "below comes from the lake.",
                icon=":material/cloud_off:",
            )
        else:
            snap = scrape.snapshot
            speed = (
                rates(previous.snapshot, snap, scrape.at - previous.at)
                if previous is not None and previous.snapshot is not None
                else None
            )
            cols = st.columns(3)
            cols[0].metric(
                "Events/s",
                "–" if speed is None else f"{speed.accepted_per_s:,.1f}",
                help=f"Since the previous scrape; {snap.accepted:,.0f} accepted since start.",
            )
            cols[1].metric(
                "Flush lag",
                "–" if snap.flush_lag_seconds is None else f"{snap.flush_lag_seconds:,.1f} s",
                help="Age of the oldest WAL record not yet committed to Delta.",
            )
            cols[2].metric(
                "WAL backlog",
                charts.format_value(snap.wal_pending_events, "count"),
                help="WAL records not yet in Delta.",
            )
            flusher = {True: "running", False: "STOPPED", None: "unknown"}[snap.flusher_alive]
            st.caption(
                f"Collector `{snap.collector_id}` · flusher {flusher} · "
                f"{snap.received:,.0f} received, {snap.quarantined_total:,.0f} quarantined, "
                f"{snap.duplicates:,.0f} duplicates dropped, "
                f"{sum(snap.rejected.values()):,.0f} requests rejected since start."
                + ("" if speed is not None else " Events/s from the next refresh.")
            )
            if snap.requests:
                routes = pl.DataFrame(
                    [
                        {
                            "route": route,
                            "requests": count,
                            "p50_ms": (snap.route_latency(route, 0.5) or 0) * 1000,
                            "p95_ms": (snap.route_latency(route, 0.95) or 0) * 1000,
                        }
                        for route, count in sorted(snap.requests.items())
                    ]
                )
                data_table(
                    routes,
                    key="collector_routes",
                    formats={"requests": "count", "p50_ms": "ms", "p95_ms": "ms"},
                    labels={"p50_ms": "p50", "p95_ms": "p95"},
                    searchable=False,
                )
    with machine:
        sample = host.sample
        st.markdown(f"**Host `{sample['host']}`, now**")
        cols = st.columns(3)
        cols[0].metric("CPU", f"{sample['cpu_percent']:.0f} %")
        cols[1].metric("Memory", f"{sample['memory_percent']:.0f} %")
        cols[2].metric("Disk (data dir)", f"{sample['disk_percent']:.0f} %")
        net = (
            f"network ↑ {host.net_sent_per_s / 1024:,.1f} KiB/s ↓ "
            f"{host.net_recv_per_s / 1024:,.1f} KiB/s"
            if host.net_sent_per_s is not None and host.net_recv_per_s is not None
            else "network rate from the next refresh"
        )
        st.caption(
            f"Load (1 min) {sample['load_1m']:.2f} · {net} · "
            f"{sample['disk_free_bytes'] / 1e9:,.1f} GB free · refreshed every {LIVE_REFRESH}"
        )


live_panel()


def _api() -> None:
    if bounds is None or hourly.is_empty():
        empty_state(
            "No API requests in this date range. The backend's `API Request` events land in "
            "`sys_api_latency_hourly` with every materialization: widen the range or run "
            "`pulse materialize`."
        )
    else:
        measure = (
            st.segmented_control(
                "Measure",
                options=list(MEASURES),
                default="p95_latency_ms",
                format_func=lambda m: MEASURES[m][0],
                key="measure",
                bind="query-params",
            )
            or "p95_latency_ms"
        )
        label, unit = MEASURES[measure]
        one_day = period.start == period.end
        x, fmt = ("request_hour", "%H:%M") if one_day else ("request_date", "%b %d")
        series = latency_rollup(hourly, [x]).sort(x)
        overlay = None
        if hourly_before is not None and hourly_before.height and not one_day:
            before = latency_rollup(hourly_before, ["request_date"]).sort("request_date")
            overlay = before.select(
                shifted_onto("request_date", comparison, period).alias("request_date"),
                pl.col(measure),
            )
        left, right = st.columns(2)
        with left:
            show_chart(
                charts.line_chart(
                    series,
                    x=x,
                    annotations=chart_notes(PAGE),
                    y=measure,
                    title=f"{label}, all endpoints, per {'hour' if one_day else 'day'}",
                    y_title=label,
                    unit=unit,
                    comparison=overlay,
                    comparison_label=COMPARE_MODES[view.compare].lower(),
                    select=None if one_day else "api_day",
                    time_format=fmt,
                ),
                key="api_total_chart",
                selection=None if one_day else "api_day",
                drill=None if one_day else {"request_date": "day"},
            )
            if not one_day:
                st.caption("Click a day to see its hours; the breadcrumb above undoes it.")
        with right:
            by_endpoint = latency_rollup(hourly, [x, "endpoint"]).sort(x)
            show_chart(
                charts.line_chart(
                    by_endpoint,
                    x=x,
                    annotations=chart_notes(PAGE),
                    y=measure,
                    color="endpoint",
                    title=f"{label} by endpoint",
                    y_title=label,
                    unit=unit,
                    time_format=fmt,
                ),
                key="api_endpoint_chart",
            )
        endpoints = worst_endpoints(hourly)
        if hourly_before is not None and hourly_before.height:
            prior = latency_rollup(hourly_before, ["endpoint"]).select(
                "endpoint",
                pl.col("p95_latency_ms").alias("p95_before"),
                pl.col("error_rate").alias("error_rate_before"),
            )
            endpoints = endpoints.join(prior, on="endpoint", how="left", maintain_order="left")
            endpoints = endpoints.with_columns(
                p95_change=(pl.col("p95_latency_ms") - pl.col("p95_before")) / pl.col("p95_before")
            ).drop("p95_before", "error_rate_before")
        st.markdown("**Endpoints, worst first** (by error rate, then p95 latency)")
        shown = endpoints.select(
            "endpoint",
            "requests",
            "error_rate",
            "client_error_rate",
            "p50_latency_ms",
            "p95_latency_ms",
            "p99_latency_ms",
            "max_latency_ms",
            *(["p95_change"] if "p95_change" in endpoints.columns else []),
        )
        data_table(
            shown,
            key="endpoint_table",
            formats={
                "requests": "count",
                "error_rate": "percent",
                "client_error_rate": "percent",
                "p50_latency_ms": "ms",
                "p95_latency_ms": "ms",
                "p99_latency_ms": "ms",
                "max_latency_ms": "ms",
                "p95_change": "percent",
            },
            labels={
                "error_rate": "5xx rate",
                "client_error_rate": "4xx rate",
                "p50_latency_ms": "p50",
                "p95_latency_ms": "p95",
                "p99_latency_ms": "p99",
                "max_latency_ms": "slowest",
                "p95_change": "p95 change",
            },
            searchable=False,
        )
        st.caption(
            "Per endpoint and hour the percentiles are exact; over several hours they are the "
            "request-weighted mean of the hourly percentiles. Counts and rates are exact."
        )


def _ingestion() -> None:
    if bounds is not None:
        pipeline = ql.table(
            "sys_pipeline_health",
            between=("health_date", period.start, period.end),
            order_by="health_date",
            page=PAGE,
        ).frame
        if pipeline.is_empty():
            empty_state("No ingestion history in this date range: widen the range.")
        else:
            landed = int(pipeline["rows_landed"].sum())
            quarantined = int(pipeline["quarantined"].sum())
            cols = st.columns(4)
            cols[0].metric("Rows landed", charts.format_value(landed, "count", compact=True))
            cols[1].metric(
                "Quarantined",
                charts.format_value(quarantined, "count", compact=True),
                help="Messages the collector rejected (by received day); see the Data quality page.",
            )
            cols[2].metric(
                "Duplicates removed",
                charts.format_value(int(pipeline["duplicate_rows"].sum()), "count", compact=True),
            )
            worst_lag = pipeline["p99_ingestion_lag_seconds"].max()
            cols[3].metric(
                "Worst-day p99 lag",
                duration(float(worst_lag)) if worst_lag is not None else "–",  # type: ignore[arg-type]
                help="received_at − event time, 99th percentile of the worst day in the range.",
            )
            left, right = st.columns(2)
            with left:
                volume = pipeline.select(
                    pl.col("health_date").alias("day"),
                    pl.col("rows_landed").cast(pl.Float64).alias("Landed"),
                    pl.col("quarantined").cast(pl.Float64).alias("Quarantined"),
                ).unpivot(index="day", variable_name="rows", value_name="count")
                show_chart(
                    charts.bar_chart(
                        volume,
                        x="day",
                        y="count",
                        color="rows",
                        temporal=True,
                        annotations=chart_notes(PAGE),
                        unit="count",
                        title="Rows landed in bronze per day",
                    ),
                    key="pipeline_volume",
                )
            with right:
                divisor, lag_unit = lag_scale(worst_lag)  # type: ignore[arg-type]
                lag = (
                    pipeline.filter(pl.col("p50_ingestion_lag_seconds").is_not_null())
                    .select(
                        pl.col("health_date").alias("day"),
                        (pl.col("p50_ingestion_lag_seconds") / divisor).alias("p50"),
                        (pl.col("p99_ingestion_lag_seconds") / divisor).alias("p99"),
                    )
                    .unpivot(index="day", variable_name="percentile", value_name="lag")
                )
                show_chart(
                    charts.line_chart(
                        lag,
                        x="day",
                        annotations=chart_notes(PAGE),
                        y="lag",
                        color="percentile",
                        title=f"Ingestion lag per event day ({lag_unit})",
                        y_title=lag_unit,
                        unit="count" if (worst_lag or 0) / divisor >= 10 else "ratio",
                    ),
                    key="pipeline_lag",
                )
            if pipeline["late_event_share"].max() == 1.0:  # type: ignore[operator]
                st.caption(
                    "Every event of these days arrived more than a day after it happened: a "
                    "backfill (e.g. the demo's bulk load), not live traffic."
                )
    collector_history = tables.platform_metrics(["collector"], since.date(), now.date())
    if collector_history.height:
        flush = collector_history.filter(pl.col("name") == "flush_lag_seconds_max").select(
            pl.col("date").alias("day"), pl.col("value").alias("seconds")
        )
        if flush.height:
            show_chart(
                charts.line_chart(
                    flush,
                    x="day",
                    annotations=chart_notes(PAGE),
                    y="seconds",
                    title="Collector flush lag, daily maximum (probes)",
                    y_title="seconds",
                    unit="seconds",
                ),
                key="flush_history",
            )


def _uptime() -> None:
    with st.expander("How uptime is measured"):
        st.markdown(UPTIME_DEFINITION)
    if up.rounds == 0:
        empty_state(
            f"No health probes in the {window_label.lower()}: the `platform_telemetry` sensor "
            "probes every service once a minute while the Dagster daemon runs (`pulse serve` or "
            "`make demo`)."
        )
    else:
        used, budget = up.down_minutes, up.budget_minutes
        st.caption(
            f"Platform {charts.format_value(up.platform, 'percent')} over {up.rounds:,} probe "
            f"minutes ({charts.format_value(up.coverage, 'percent')} of the window observed) · "
            f"downtime {used:,.0f} min of the {budget:,.1f} min the 99.5 % target allows."
        )
        service_cols = st.columns(max(up.services.height, 1))
        for col, row in zip(service_cols, up.services.iter_rows(named=True), strict=False):
            with col:
                st.metric(
                    row["service"].title(),
                    charts.format_value(row["uptime"], "percent"),
                    help=f"{row['ok_probes']:,} of {row['probes']:,} probes ok; last probe "
                    f"{row['last_probe']:%b %d %H:%M} UTC",
                )
                if row["meets_target"]:
                    st.badge("On target", color="green")
                else:
                    st.badge(f"Below 99.5 % · down {row['down_minutes']:,.0f} min", color="red")
                if not row["last_ok"]:
                    st.caption(f"Failing now: {row['last_error'] or 'not ready'}")
        per_hour = (
            probes.filter(pl.col("probed_at") >= since)
            .group_by(hour=pl.col("probed_at").dt.truncate("1h"), service=pl.col("service"))
            .agg(uptime=pl.col("ok").mean())
            .sort("hour")
        )
        show_chart(
            charts.line_chart(
                per_hour,
                x="hour",
                annotations=chart_notes(PAGE),
                y="uptime",
                color="service",
                title="Uptime per hour by service (target 99.5 %)",
                y_title="uptime",
                unit="percent",
                time_format=time_format_for(per_hour["hour"]),
            ),
            key="uptime_chart",
        )


def _host() -> None:
    samples = tables.host_samples(since)
    if samples.height:
        host_series = samples.select(
            pl.col("sampled_at").alias("time"),
            (pl.col("cpu_percent") / 100).alias("CPU"),
            (pl.col("memory_percent") / 100).alias("Memory"),
            (pl.col("disk_percent") / 100).alias("Disk"),
        ).unpivot(index="time", variable_name="resource", value_name="used")
        show_chart(
            charts.line_chart(
                host_series,
                x="time",
                annotations=chart_notes(PAGE),
                y="used",
                color="resource",
                title="Host CPU, memory and disk (every minute)",
                y_title="used",
                unit="percent",
                time_format=time_format_for(samples["sampled_at"]),
            ),
            key="host_chart",
        )
    else:
        host_daily = tables.platform_metrics(["host"], since.date(), now.date())
        if host_daily.height:
            show_chart(
                charts.line_chart(
                    host_daily.select(
                        pl.col("date").alias("day"),
                        pl.col("name").alias("measure"),
                        (pl.col("value") / 100).alias("used"),
                    ).filter(pl.col("measure") != "load_1m_max"),
                    x="day",
                    annotations=chart_notes(PAGE),
                    y="used",
                    color="measure",
                    title="Host per day (from the system mart)",
                    unit="percent",
                ),
                key="host_daily_chart",
            )
        else:
            empty_state(
                f"No host history in the {window_label.lower()}: the `platform_telemetry` sensor "
                "samples CPU, memory and disk every minute while the Dagster daemon runs. "
                "The live panel above shows the host now."
            )
    capacity = tables.platform_metrics(["capacity"]).filter(pl.col("name") != "events")
    if capacity.height:
        latest_day = capacity["date"].max()
        current = capacity.filter(pl.col("date") == latest_day)
        with st.expander(f"Capacity (system mart, {latest_day:%b %d})"):  # type: ignore[str-format]
            overall = {
                r["name"]: r["value"]
                for r in current.filter(pl.col("dimension") == "").iter_rows(named=True)
            }
            per_day = current.filter(pl.col("name") == "events_per_day_7d_avg")["value"]
            st.caption(
                f"Lake {overall.get('lake_bytes', 0) / 1e6:,.1f} MB · data dir "
                f"{overall.get('data_dir_bytes', 0) / 1e6:,.1f} MB"
                + (
                    f" · growing {overall['lake_bytes_growth_per_day'] / 1e6:,.2f} MB/day"
                    if "lake_bytes_growth_per_day" in overall
                    else ""
                )
                + (f" · {per_day[0]:,.0f} events/day (7-day mean)" if per_day.len() else "")
            )
            per_table = current.filter(pl.col("name").is_in(["rows", "disk_bytes", "files"]))
            if per_table.height:
                per_table = (
                    per_table.pivot(on="name", index="dimension", values="value")
                    .rename({"dimension": "table"})
                    .with_columns(
                        (pl.col(c) if c in per_table["name"] else pl.lit(None, pl.Float64)).alias(c)
                        for c in ("rows", "disk_bytes", "files")
                    )
                    .with_columns(disk_mb=pl.col("disk_bytes") / 1e6)
                    .select("table", "rows", "files", "disk_mb")
                    .sort("disk_mb", descending=True, nulls_last=True)
                )
                data_table(
                    per_table,
                    key="capacity_table",
                    formats={"rows": "count", "files": "count", "disk_mb": "number"},
                    labels={"disk_mb": "on disk (MB)"},
                    searchable=False,
                )


def _runs() -> None:
    if runs is None or runs.is_empty():
        empty_state(
            "No Dagster run yet: `pulse materialize` runs the pipeline once; `pulse serve` "
            "starts the schedules."
        )
    else:
        finished = runs_window.filter(pl.col("duration_s").is_not_null())  # type: ignore[union-attr]
        failed = int(runs_window["status"].is_in(["FAILURE", "CANCELED"]).sum())  # type: ignore[index]
        cols = st.columns(4)
        cols[0].metric(f"Runs ({window_label.lower()})", f"{runs_window.height:,}")  # type: ignore[union-attr]
        cols[1].metric(
            "Failed runs",
            f"{failed:,}",
            help="Runs that failed or were cancelled in the operations window.",
        )
        cols[2].metric(
            "p50 duration",
            duration(finished["duration_s"].median()) if finished.height else "–",  # type: ignore[arg-type]
        )
        cols[3].metric(
            "p95 duration",
            duration(finished["duration_s"].quantile(0.95, "linear")) if finished.height else "–",  # type: ignore[arg-type]
        )
        by_job = run_summary(runs_window)  # type: ignore[arg-type]
        if by_job.height:
            st.markdown("**By job** (jobs with failures first)")
            data_table(
                by_job.with_columns(pl.col("last_status").str.to_titlecase()),
                key="runs_by_job",
                formats={
                    "runs": "count",
                    "failed": "count",
                    "failure_rate": "percent",
                    "p50_s": "seconds",
                    "p95_s": "seconds",
                    "max_s": "seconds",
                    "last_run": "datetime",
                },
                labels={
                    "failure_rate": "failure rate",
                    "p50_s": "p50",
                    "p95_s": "p95",
                    "max_s": "longest",
                    "last_status": "last status",
                    "last_run": "last run (UTC)",
                },
                searchable=False,
            )
        st.markdown("**Latest runs**")
        data_table(
            runs.head(25).select(
                pl.col("run_id").str.slice(0, 8).alias("run"),
                "job",
                pl.col("status").str.to_titlecase(),
                "created_at",
                "duration_s",
                "trigger",
            ),
            key="runs_table",
            formats={"duration_s": "seconds", "created_at": "datetime"},
            labels={"created_at": "started (UTC)", "duration_s": "duration"},
        )


def _queries() -> None:
    if not queries.queries:
        empty_state(
            f"No dashboard queries logged in the {window_label.lower()}: every query-layer call is "
            "written to `system/query_log` a few seconds after it runs."
        )
    else:
        cols = st.columns(4)
        cols[0].metric("Queries", f"{queries.queries:,}")
        cols[1].metric(
            "p50",
            charts.format_value(float(log["duration_ms"].median()), "ms"),  # type: ignore[arg-type]
        )
        cols[2].metric(
            "Cache hit rate",
            charts.format_value(queries.cache_hit_rate, "percent"),
            help="Calls the query layer answered entirely from its cache.",
        )
        cols[3].metric("Errors", charts.format_value(queries.error_rate, "percent"))
        left, right = st.columns(2)
        with left:
            show_chart(
                charts.bar_chart(
                    queries.by_page,
                    x="page",
                    y="p95_ms",
                    unit="ms",
                    horizontal=True,
                    title="p95 query time by page",
                ),
                key="query_pages_chart",
            )
        with right:
            data_table(
                queries.by_page,
                key="query_pages",
                formats={
                    "queries": "count",
                    "p50_ms": "ms",
                    "p95_ms": "ms",
                    "max_ms": "ms",
                    "cache_hit_rate": "percent",
                    "errors": "count",
                },
                labels=QUERY_LABELS,
                searchable=False,
            )
        st.markdown("**Queries, slowest p95 first**")
        data_table(
            queries.by_query.head(50),
            key="query_shapes",
            formats={
                "queries": "count",
                "p50_ms": "ms",
                "p95_ms": "ms",
                "max_ms": "ms",
                "cache_hit_rate": "percent",
                "errors": "count",
            },
            labels=QUERY_LABELS,
        )
        with st.expander("Slowest calls"):
            data_table(
                queries.slowest,
                key="query_slowest",
                formats={"duration_ms": "ms", "rows": "count", "logged_at": "datetime"},
                labels={"logged_at": "at (UTC)", "duration_ms": "time", "cache_hit": "cached"},
            )


def _freshness() -> None:
    marts = tables.mart_freshness()
    if marts is None:
        empty_state("Nothing published yet: run `pulse materialize`.")
    else:
        publication, freshness = marts
        data_end = bounds[2].data_end if bounds else None
        published_at = dt.datetime.fromisoformat(publication.published_at.replace("Z", "+00:00"))
        st.caption(
            f"Gold publication `{publication.id}`, published {published_at:%b %d %H:%M} UTC "
            f"({duration((now - published_at).total_seconds())} ago)"
            + (f"; its events end {data_end:%b %d, %Y}." if data_end else ".")
            + " Marts behind the publication's last event day come first."
        )
        if data_end is not None:
            freshness = freshness.with_columns(
                days_behind=pl.when(pl.col("latest").is_not_null())
                .then((pl.lit(data_end) - pl.col("latest")).dt.total_days().clip(lower_bound=0))
                .otherwise(None)
            ).sort("days_behind", "mart", descending=[True, False], nulls_last=True)
        data_table(
            freshness,
            key="mart_freshness",
            formats={"rows": "count", "days_behind": "count", "latest": "date"},
            labels={"time_column": "time column", "latest": "latest", "days_behind": "days behind"},
        )
        st.caption(
            "Monthly marts are stamped with the month's first day, snapshots (dimensions) have no "
            "time column: being behind is expected for them."
        )


section_tabs(
    {
        "API latency and errors": _api,
        "Ingestion": _ingestion,
        "Uptime": _uptime,
        "Host": _host,
        "Pipeline runs": _runs,
        "Query performance": _queries,
        "Data freshness": _freshness,
    }
)
