"""Data quality: can the numbers be trusted?

Quality scores per table over time against the 95 % target (``system/quality_scores``), the
failed checks of every suite's latest run with their severity (``system/quality_results``), what
the collector rejected and why (``bronze/quarantine``) and the anomalies detected in the event
stream (``system/event_anomalies``). Every read goes through :mod:`analytics.system_tables`
(cached by Delta version, read-only); definitions are in docs/quality.md and
docs/anomaly-detection.md.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from analytics import charts
from analytics.periods import relative_change
from apps.streamlit.components.annotations import chart_notes
from apps.streamlit.components.layout import breadcrumb, data_table, empty_state, page_header
from apps.streamlit.components.page_tools import page_tools
from apps.streamlit.components.state import global_filters
from apps.streamlit.platform_sources import system_tables

DIMENSIONS = {
    "score": "Score",
    "completeness": "Completeness",
    "validity": "Validity",
    "uniqueness": "Uniqueness",
    "timeliness": "Timeliness",
    "consistency": "Consistency",
}
SEVERITY_ORDER = {"error": 0, "warn": 1}

tables = system_tables()
scores_all = tables.quality_scores()
quarantine_all = tables.quarantine_daily()
anomalies_all = tables.anomalies()
latest_runs = tables.latest_results()

days = [
    *scores_all["date"].to_list(),
    *quarantine_all["received_date"].to_list(),
    *[w.date() for w in anomalies_all["window_start"].to_list()],
]
PAGE = "quality"
TITLE = "Data quality"
ANSWERS = (
    "Can the numbers be trusted? Which tables miss the 95 % target, which checks fail, "
    "what was rejected and what looks anomalous."
)
if not days and latest_runs.is_empty():
    page_header(TITLE, ANSWERS)
    empty_state(
        "No quality results yet: `pulse materialize` (or `make demo`) runs the checks, scores "
        "the tables and records what the collector rejected."
    )
    st.stop()

page_header(TITLE, ANSWERS)
fresh = []
if scores_all.height:
    fresh.append(
        f"Scores through {scores_all['date'].max():%b %d, %Y} "
        f"(computed {scores_all['computed_at'].max():%b %d %H:%M} UTC)"
    )
if latest_runs.height:
    fresh.append(f"checks last run {latest_runs['evaluated_at'].max():%b %d %H:%M} UTC")
if quarantine_all.height:
    fresh.append(f"quarantine through {quarantine_all['received_date'].max():%b %d}")
st.caption(" · ".join(fresh) or "No scores yet")

today = dt.datetime.now(dt.UTC).date()
first_day = min(days) if days else today
last_day = max(days) if days else today
view = global_filters(first_day, last_day, {})
breadcrumb(view)
page_tools(view, PAGE)
period, comparison = view.effective_period, view.comparison
comparable = comparison is not None and comparison.start >= first_day
st.caption(
    view.describe()
    + ". Latest scores and checks are each table's and suite's newest, whatever the range."
)

scores = scores_all.filter(pl.col("date").is_between(period.start, period.end))
latest_scores = tables.latest_scores()
quarantine = tables.quarantine_daily(period.start, period.end)
anomalies = tables.anomalies(period.start, period.end)
failures = latest_runs.filter(~pl.col("success"))


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def delta(current: float, previous: float | None) -> str | None:
    change = relative_change(current, previous) if comparable else None
    return None if change is None else charts.format_change(change)


before_quarantine = before_anomalies = None
if comparison is not None and comparable:
    before_quarantine = float(
        tables.quarantine_daily(comparison.start, comparison.end)["messages"].sum()
    )
    before_anomalies = float(tables.anomalies(comparison.start, comparison.end).height)

# ---- cards ---------------------------------------------------------------------------------------
grid = st.grid(4, key="quality_cards")
with grid, st.container(border=True, key="card_target"):
    meeting = int(latest_scores["meets_target"].sum()) if latest_scores.height else 0
    st.metric(
        "Tables meeting target",
        f"{meeting} of {latest_scores.height}" if latest_scores.height else "–",
        help="Each table's newest scored day: completeness and validity above 95 %.",
    )
    if latest_scores.height:
        worst = latest_scores.row(0, named=True)
        st.caption(
            f"Lowest score: {worst['table']} {charts.format_value(worst['score'], 'percent')}"
        )
with grid, st.container(border=True, key="card_checks"):
    errors = int((failures["severity"] == "error").sum())
    warns = failures.height - errors
    st.metric(
        "Failed checks",
        f"{failures.height:,}",
        help="Failed expectations in the latest run of every suite.",
    )
    st.caption(
        f"{plural(errors, 'error')} · {plural(warns, 'warning')} · "
        f"{plural(latest_runs['suite'].n_unique(), 'suite')}"
        if latest_runs.height
        else "No check has run yet"
    )
with grid, st.container(border=True, key="card_quarantine"):
    rejected = float(quarantine["messages"].sum())
    per_day = (
        quarantine.group_by("received_date").agg(pl.col("messages").sum()).sort("received_date")
    )
    st.metric(
        "Quarantined messages",
        charts.format_value(rejected, "count", compact=True),
        delta=delta(rejected, before_quarantine),
        delta_color="inverse",
        chart_data=[float(v) for v in per_day["messages"].to_list()]
        if per_day.height > 1
        else None,
        chart_type="bar",
        help="Messages the collector rejected in the range (by the day it received them).",
    )
with grid, st.container(border=True, key="card_anomalies"):
    st.metric(
        "Anomalous windows",
        f"{anomalies.height:,}",
        delta=delta(float(anomalies.height), before_anomalies),
        delta_color="inverse",
        help="5-minute windows the detectors flagged in the range (docs/anomaly-detection.md).",
    )
    st.caption(
        f"{anomalies['series'].n_unique()} series · {plural(anomalies['kind'].n_unique(), 'kind')}"
        if anomalies.height
        else "None detected"
    )

# ---- scores --------------------------------------------------------------------------------------
st.subheader("Quality scores")
dimension = (
    st.segmented_control(
        "Dimension",
        options=list(DIMENSIONS),
        default="score",
        format_func=DIMENSIONS.get,
        key="dimension",
        bind="query-params",
    )
    or "score"
)
series = scores.filter(pl.col(dimension).is_not_null()).select("date", "table", dimension)
if series.is_empty():
    empty_state(
        f"No {DIMENSIONS[dimension].lower()} scores in this range"
        + (
            " (validity and timeliness are measured on bronze only)."
            if dimension in ("validity", "timeliness")
            else ": widen the range."
        )
    )
elif series["date"].n_unique() == 1:
    day = series["date"][0]
    st.altair_chart(
        charts.bar_chart(
            series.sort(dimension),
            x="table",
            y=dimension,
            unit="percent",
            horizontal=True,
            title=f"{DIMENSIONS[dimension]} by table on {day:%b %d, %Y} (target 95 %)",
            height=60 + 36 * series.height,
        ),
        key="scores_chart",
    )
else:
    st.altair_chart(
        charts.line_chart(
            series.sort("date"),
            x="date",
            annotations=chart_notes(PAGE),
            y=dimension,
            color="table",
            unit="percent",
            y_title=DIMENSIONS[dimension],
            title=f"{DIMENSIONS[dimension]} per day by table (target 95 %)",
            zero=False,
            points=True,
        ),
        key="scores_chart",
    )
st.markdown("**Latest score per table** (lowest first)")
if latest_scores.is_empty():
    empty_state(
        "No table has been scored yet: the `quality/quality_scores` asset runs after each publication."
    )
else:
    data_table(
        latest_scores.select(
            "table",
            "date",
            "rows",
            "completeness",
            "validity",
            "uniqueness",
            "timeliness",
            "consistency",
            "score",
            pl.when(pl.col("meets_target"))
            .then(pl.lit("✓ yes"))
            .otherwise(pl.lit("✗ no"))
            .alias("meets_target"),
        ),
        key="latest_scores",
        formats={"date": "date", "rows": "count", **{d: "percent" for d in DIMENSIONS}},
        labels={"meets_target": "meets target", "date": "scored day"},
        searchable=False,
    )
    st.caption(
        "Meets target: completeness and validity above 95 %. The score weighs all five "
        "dimensions (completeness and validity 25 %, uniqueness 20 %, timeliness and consistency "
        "15 %); bronze is scored by received day, marts by their own date (docs/quality.md)."
    )

# ---- checks --------------------------------------------------------------------------------------
st.subheader("Checks: latest run per suite")
if latest_runs.is_empty():
    empty_state("No check has run yet: the `gx_*` checks run with every materialization.")
else:
    suites = (
        latest_runs.group_by("suite", "asset")
        .agg(
            expectations=pl.len(),
            failed=(~pl.col("success")).sum(),
            failed_errors=((~pl.col("success")) & (pl.col("severity") == "error")).sum(),
            run=pl.col("run_id").first().str.slice(0, 8),
            evaluated_at=pl.col("evaluated_at").max(),
        )
        .sort(["failed_errors", "failed", "suite"], descending=[True, True, False])
    )
    passed = int((suites["failed"] == 0).sum())
    st.caption(
        f"{passed} of {suites.height} suites passed their latest run. A failed **error** "
        "expectation blocks the next publication (dashboards keep the last good one); a failed "
        "**warn** expectation is reported and publication goes on."
    )
    if failures.is_empty():
        st.success(
            "Every expectation of every suite's latest run passed.", icon=":material/check_circle:"
        )
    else:
        data_table(
            failures.select(
                "severity",
                "suite",
                "asset",
                "expectation",
                "expectation_group",
                "observed_value",
                "evaluated_at",
            ),
            key="failed_checks",
            formats={"evaluated_at": "datetime"},
            labels={
                "expectation_group": "group",
                "observed_value": "observed",
                "evaluated_at": "run at (UTC)",
            },
        )
    with st.expander("All suites"):
        data_table(
            suites.drop("failed_errors"),
            key="suites_table",
            formats={"expectations": "count", "failed": "count", "evaluated_at": "datetime"},
            labels={"evaluated_at": "run at (UTC)"},
        )

# ---- quarantine ----------------------------------------------------------------------------------
st.subheader("Quarantine: what was rejected and why")
if quarantine.is_empty():
    empty_state("No message was quarantined in this range.")
else:
    st.altair_chart(
        charts.bar_chart(
            quarantine,
            x="received_date",
            y="messages",
            color="reason",
            temporal=True,
            annotations=chart_notes(PAGE),
            unit="count",
            title="Quarantined messages per day by reason",
        ),
        key="quarantine_chart",
    )
    reasons = tables.quarantine_reasons(period.start, period.end).with_columns(
        share=pl.col("messages") / pl.col("messages").sum()
    )
    data_table(
        reasons.select("reason", "messages", "share", "example", "first_received", "last_received"),
        key="quarantine_reasons",
        formats={
            "messages": "count",
            "share": "percent",
            "first_received": "datetime",
            "last_received": "datetime",
        },
        labels={
            "example": "latest error",
            "first_received": "first (UTC)",
            "last_received": "last (UTC)",
        },
        searchable=False,
    )
    st.caption(
        "Reason codes are the collector's (lake/validation.py); the latest error is its message "
        "for the newest rejected message of each reason. Payloads are stored PII-masked."
    )

# ---- anomalies -----------------------------------------------------------------------------------
st.subheader("Anomalies in the event stream")
if anomalies.is_empty():
    empty_state(
        "No anomaly detected in this range. The detectors (volume drops and spikes, missing "
        "events, null properties, duplicate storms, late data) run hourly on the newest 24 h of "
        "data (docs/anomaly-detection.md)."
    )
else:
    per_kind = anomalies.group_by(day=pl.col("window_start").dt.date(), kind=pl.col("kind")).agg(
        windows=pl.len()
    )
    st.altair_chart(
        charts.bar_chart(
            per_kind.sort("day"),
            x="day",
            y="windows",
            color="kind",
            temporal=True,
            annotations=chart_notes(PAGE),
            unit="count",
            title="Anomalous windows per day by kind",
        ),
        key="anomaly_chart",
    )
    data_table(
        anomalies.select(
            "kind",
            "series",
            "property",
            "window_start",
            "window_end",
            "observed",
            "expected",
            "p_value",
        ),
        key="anomalies_table",
        formats={
            "observed": "number",
            "expected": "number",
            "window_start": "datetime",
            "window_end": "datetime",
        },
        labels={"window_start": "from (UTC)", "window_end": "to (UTC)", "p_value": "p-value"},
    )
    st.caption(
        "Observed and expected are event counts for volume detectors and shares for rate "
        "detectors (null_rate, duplicates, late)."
    )
