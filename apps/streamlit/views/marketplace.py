"""Marketplace: program sales against the comparison period, the funnel viewed → purchased →
kept, every program's traffic, conversion, revenue, refunds and ratings (click one to drill into
it), revenue-optimisation suggestions with the numbers and thresholds behind each, benchmarks by
category, and the trainers' revenue and commission by month.

Metrics come from the query layer (defined in dbt); the program and trainer tables are rows of
their marts read through ``QueryLayer.table`` (programs: ``mkt_program_member_daily`` over the
date range, with ``mkt_program_performance``'s trainer, category and price and ``dim_programs``'
titles; trainers: ``mkt_trainer_revenue`` + ``dim_trainers``); the suggestion rules are
:mod:`analytics.marketplace` (the reports use the same)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from analytics import charts
from analytics.marketplace import (
    ATTRIBUTES,
    RULES,
    Thresholds,
    category_benchmarks,
    label_programs,
    programs_in_range,
    rule_thresholds,
    suggest,
)
from analytics.periods import months_label, months_overlapping
from apps.streamlit.components.annotations import chart_notes
from apps.streamlit.components.cards import card_for, kpi_card
from apps.streamlit.components.layout import (
    breadcrumb,
    data_table,
    empty_state,
    page_header,
    show_chart,
)
from apps.streamlit.components.page_tools import page_tools
from apps.streamlit.components.state import SEGMENT_LABELS, global_filters
from apps.streamlit.queries import data_bounds, kpi_targets, query_layer

PAGE = "marketplace"
KPIS = (
    "program_views",
    "program_conversion_rate",
    "program_purchases",
    "program_revenue",
    "program_net_revenue",
    "refund_to_sales_ratio",
    "platform_commission",
    "commission_rate",
)
FUNNEL = (
    ("Viewed", "program_views"),
    ("Purchased", "program_view_purchases"),
    ("Kept", "program_kept_purchases"),
)
TRAINER_METRICS = ("trainer_gross_revenue", "platform_commission", "trainer_payout")
SHORT_LABELS = {"commission_rate": "Commission rate"}
PROGRAM_PARAM = "program"
PROGRAM_COLUMNS = (
    "program_id",
    "trainer_id",
    "category",
    "list_price",
    "views",
    "viewers",
    "purchases",
    "purchasers",
    "conversion_rate",
    "gross_revenue",
    "refunds",
    "refunded_amount",
    "net_revenue",
    "refund_rate",
    "trainer_payout",
    "platform_commission",
    "avg_rating",
    "ratings",
)


def _money(value: float | None) -> str:
    return charts.format_value(value, "currency")


def _sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}."


def _month_end(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


ql = query_layer()
bounds = data_bounds(ql)
if bounds is None:
    page_header("Marketplace", "Which programs and trainers sell, and what would raise revenue?")
    empty_state("No published data yet: run `pulse materialize` (or `make demo`).")
    st.stop()
first_day, last_day, freshness = bounds
page_header(
    "Marketplace",
    "Which programs and trainers sell, where do buyers drop off, and what would raise revenue?",
    freshness,
)
# Marketplace data has no member segments (anonymous visitors browse programs too): no segment
# filters here; the range and the comparison apply.
view = global_filters(first_day, last_day, {})
breadcrumb(view)
page_tools(view, PAGE)
period, comparison = view.effective_period, view.comparison
query = {"start": period.start, "end": period.end, "filters": view.filters, "page": PAGE}
months = months_overlapping(period)
previous_months = months_overlapping(comparison) if comparison is not None else ()

# ---- KPI cards -------------------------------------------------------------------------------
totals = ql.metrics(KPIS, compare=view.compare_arg, **query)
daily_names = [
    n
    for n in KPIS
    if totals.info(n).aggregation in ("sum", "count") and totals.info(n).time_grain == "day"
]
daily = ql.metrics(daily_names, grain="day", **query).frame.sort("period")
targets = kpi_targets()
st.caption(
    view.describe() + " · marketplace numbers are not split by member segment (anonymous "
    "visitors browse programs too)."
)
if totals.unfiltered:
    st.caption(
        "Not split by segment, so shown for everyone: "
        + ", ".join(
            f"{totals.info(m).label} ({', '.join(SEGMENT_LABELS.get(s, s) for s in segs)})"
            for m, segs in totals.unfiltered.items()
        )
        + "."
    )
overlap = bool(set(months) & set(previous_months))
grid = st.grid(4, key="kpi_cards")
for name in KPIS:
    info = totals.info(name)
    monthly = info.time_grain == "month"
    with grid:
        kpi_card(
            card_for(
                totals,
                name,
                target=targets.get(name),
                trend=daily[name].to_list() if name in daily.columns else (),
                label=f"{SHORT_LABELS.get(name, info.label)} ({months_label(months)})"
                if monthly
                else None,
                comparable=not (monthly and overlap),
            ),
            key=name,
        )
st.caption(
    f"Commission is booked per calendar month: its cards cover {months_label(months)}"
    + (", which the comparison period shares, so they show no change." if overlap else ".")
)

# ---- funnel ----------------------------------------------------------------------------------
st.subheader("Funnel: viewed → purchased → kept")
funnel = ql.metrics([m for _, m in FUNNEL], **query)
left, right = st.columns([3, 2])
with left:
    steps = pl.DataFrame(
        {
            "step": [label for label, _ in FUNNEL],
            "pairs": [int(funnel.value(m) or 0) for _, m in FUNNEL],
        }
    )
    if not steps["pairs"][0]:
        empty_state("No program was viewed in this period.")
    else:
        show_chart(
            charts.funnel_chart(
                steps, step="step", value="pairs", title="(Member, program) pairs", height=200
            ),
            key="funnel_chart",
        )
    st.caption(
        "A pair counts on the day a member first viewed the program; purchased: bought after "
        "that view (whenever); kept: never refunded."
    )
with right:
    weekly = ql.metrics(["program_conversion_rate"], grain="week", **query).frame.sort("period")
    if weekly.is_empty():
        empty_state("No views in these weeks.")
    else:
        show_chart(
            charts.bar_chart(
                weekly.fill_null(0.0),
                x="period",
                y="program_conversion_rate",
                temporal=True,
                annotations=chart_notes(PAGE),
                unit="percent",
                title="View-to-purchase conversion per week",
                height=200,
            ),
            key="conversion_weeks",
        )
        st.caption("Whole ISO weeks (from Monday) touching the period.")

# ---- programs (over the date range) ----------------------------------------------------------
st.subheader("Programs")
st.caption(
    f"{period.start:%b %d} – {period.end:%b %d, %Y}: programs with activity in the range. "
    "Viewers and buyers are distinct members in the range; conversion = buyers / viewers; "
    "refund rate = refunds / purchases; ratings are members' ratings of the program's "
    "recommended workouts in the range."
)
performance = programs_in_range(
    ql.table(
        "mkt_program_member_daily",
        between=("activity_date", period.start, period.end),
        page=PAGE,
    ).frame,
    ql.table("mkt_program_performance", columns=list(ATTRIBUTES), page=PAGE).frame,
).select(PROGRAM_COLUMNS)
catalogue = ql.table(
    "dim_programs",
    columns=["program_id", "program_title", "program_level", "trainer_handle", "is_inferred"],
    page=PAGE,
).frame
programs = label_programs(
    performance.join(catalogue, on="program_id", how="left").with_columns(
        pl.col("is_inferred").fill_null(True)  # a program dim_programs lacks is not listed either
    )
).sort(["net_revenue", "program_id"], descending=[True, False])
if programs.is_empty():
    empty_state("No program was viewed, bought or rated in this date range.")
    st.stop()
labels = dict(zip(programs["program_id"], programs["program"], strict=True))
inferred = programs.filter(pl.col("is_inferred"))
if inferred.height:
    st.info(
        f"{inferred.height} program(s) marked “(inferred)” are not in the app's program export yet: "
        "they are known from their events only (no title or level until the export lists them).",
        icon=":material/help:",
    )

current = st.query_params.get(PROGRAM_PARAM)
current = current if current in labels else None


def _pick_program() -> None:
    value = st.session_state.get(f"program_pick_{current or 'all'}")
    if value:
        st.query_params[PROGRAM_PARAM] = value
    else:
        st.query_params.pop(PROGRAM_PARAM, None)


ids = list(programs["program_id"])
st.selectbox(
    "Program",
    options=["", *ids],
    index=ids.index(current) + 1 if current else 0,
    format_func=lambda pid: labels.get(pid, "All programs"),
    key=f"program_pick_{current or 'all'}",
    on_change=_pick_program,
    width=320,
)
scatter = programs.select(
    pl.col("program").alias("Program"),
    pl.col("views").alias("Views"),
    pl.col("conversion_rate").alias("Conversion"),
    pl.col("gross_revenue").alias("Gross revenue"),
    pl.col("category").alias("Category"),
).drop_nulls("Conversion")
chart = charts.scatter_chart(
    scatter,
    x="Views",
    y="Conversion",
    x_unit="count",
    y_unit="percent",
    size="Gross revenue",
    color="Category",
    label="Program",
    select="program_point",
    x_zero=False,
    title="Views against conversion, per program (size: gross revenue)",
    height=340,
)
state = st.altair_chart(
    chart,
    key=f"program_scatter_{current or 'all'}",  # a fresh selection after every drill
    on_select="rerun",
    selection_mode=["program_point"],
)
picked = (getattr(state, "selection", None) or {}).get("program_point") or []
if picked and isinstance(picked[0], dict) and picked[0].get("Program"):
    by_label = {label: pid for pid, label in labels.items()}
    chosen = by_label.get(picked[0]["Program"])
    if chosen and chosen != current:
        st.query_params[PROGRAM_PARAM] = chosen
        st.rerun()
st.caption("Click a program to drill into it; pick “All programs” above to go back.")

DEFAULTS = Thresholds()
THRESHOLD_INPUTS = (  # (widget key, Thresholds field, label)
    ("t_viewers", "min_viewers", "Min viewers to judge a conversion"),
    ("t_purchases", "min_purchases", "Min purchases to judge a refund rate"),
    ("t_ratings", "min_ratings", "Min ratings to judge an average"),
)
# The inputs sit with the suggestions below; their values of this run are already in the state.
thresholds = Thresholds(
    **{
        field: int(st.session_state.get(key, getattr(DEFAULTS, field)))
        for key, field, _ in THRESHOLD_INPUTS
    }
)
bench, suggestions = suggest(programs, thresholds)
texts = rule_thresholds(bench, thresholds)
categories = category_benchmarks(programs)

if current:
    row = programs.filter(pl.col("program_id") == current).row(0, named=True)
    category = categories.filter(pl.col("category") == row["category"]).row(0, named=True)
    with st.container(border=True, key="program_detail"):
        head = st.container(horizontal=True, vertical_alignment="center")
        with head:
            st.markdown(f"#### {row['program']}")
            if st.button("All programs", icon=":material/close:", key="program_back"):
                st.query_params.pop(PROGRAM_PARAM, None)
                st.rerun()
        st.caption(
            f"{row['program_id']} · {row['category']} · {row['program_level'] or 'level unknown'}"
            f" · ${row['list_price']:,.2f} · trainer {row['trainer_handle'] or row['trainer_id']}"
        )
        if row["is_inferred"]:
            st.caption("Inferred: not in the app's program export yet, known from its events only.")
        tiles = st.columns(4)

        def _vs(value, base, unit):
            if value is None or base is None:
                return None
            diff = value - base
            return f"{diff * 100:+.1f} pp" if unit == "percent" else f"{diff:+.2f}"

        with tiles[0]:
            st.metric(
                "Conversion",
                charts.format_value(row["conversion_rate"], "percent"),
                delta=_vs(row["conversion_rate"], bench.median_conversion, "percent"),
                help=f"Buyers / viewers ({row['purchasers']} of {row['viewers']}); delta against "
                f"the marketplace median {charts.format_value(bench.median_conversion, 'percent')}"
                f"; its category converts {charts.format_value(category['conversion_rate'], 'percent')}.",
            )
        with tiles[1]:
            st.metric(
                "Net revenue",
                _money(row["net_revenue"]),
                help=f"Gross {_money(row['gross_revenue'])} − refunds "
                f"{_money(row['refunded_amount'])}; platform commission "
                f"{_money(row['platform_commission'])}, trainer payout "
                f"{_money(row['trainer_payout'])}.",
            )
        with tiles[2]:
            st.metric(
                "Refund rate",
                charts.format_value(row["refund_rate"], "percent"),
                delta=_vs(row["refund_rate"], bench.marketplace_refund_rate, "percent"),
                delta_color="inverse",
                help=f"{row['refunds']} of {row['purchases']} purchases; delta against the "
                f"marketplace's {charts.format_value(bench.marketplace_refund_rate, 'percent')}.",
            )
        with tiles[3]:
            st.metric(
                "Average rating",
                "–" if row["avg_rating"] is None else f"{row['avg_rating']:.2f} ★",
                delta=_vs(row["avg_rating"], bench.median_rating, "number"),
                help=f"{row['ratings']} workout ratings; delta against the median "
                f"{'–' if bench.median_rating is None else f'{bench.median_rating:.2f}'}.",
            )
        st.caption(
            f"{row['views']:,} views by {row['viewers']:,} viewers · {row['purchases']:,} "
            f"purchases · its category ({row['category']}, {category['programs']} programs): "
            f"median price {_money(category['median_list_price'])}, conversion "
            f"{charts.format_value(category['conversion_rate'], 'percent')}."
        )
        mine = [s for s in suggestions if s.program_id == current]
        if not mine:
            st.markdown("No suggestion rule fired for this program.")
        for s in mine:
            at_stake = f" · ≈ {_money(s.impact)} at stake" if s.impact else ""
            chance = " · :orange-badge[could be chance]" if s.could_be_chance else ""
            st.markdown(
                f"**{s.headline}**{at_stake}{chance}  \n{_sentence(s.evidence)}  \n*{s.action}*"
            )
            st.caption(f"Judged against: {s.threshold}.")

table = programs.select(
    "program",
    "trainer_handle",
    "category",
    "list_price",
    "views",
    "viewers",
    "conversion_rate",
    "purchases",
    "gross_revenue",
    "refunds",
    "refund_rate",
    "net_revenue",
    "platform_commission",
    "avg_rating",
    "ratings",
    "is_inferred",
)
data_table(
    table,
    key="program_table",
    height=360,
    formats={
        "list_price": "currency",
        "views": "count",
        "viewers": "count",
        "conversion_rate": "percent",
        "purchases": "count",
        "gross_revenue": "currency",
        "refunds": "count",
        "refund_rate": "percent",
        "net_revenue": "currency",
        "platform_commission": "currency",
        "avg_rating": "number",
        "ratings": "count",
    },
    labels={
        "program": "Program",
        "trainer_handle": "Trainer",
        "category": "Category",
        "list_price": "Price",
        "views": "Views",
        "viewers": "Viewers",
        "conversion_rate": "Conversion",
        "purchases": "Purchases",
        "gross_revenue": "Gross",
        "refunds": "Refunds",
        "refund_rate": "Refund rate",
        "net_revenue": "Net",
        "platform_commission": "Commission",
        "avg_rating": "Rating",
        "ratings": "Ratings",
        "is_inferred": "Inferred",
    },
)

# ---- suggestions -----------------------------------------------------------------------------
st.subheader("Revenue-optimisation suggestions")
with st.expander("Evidence thresholds"):
    st.caption("Rates are judged only with enough evidence: raise these for a bigger catalogue.")
    cols = st.columns(3)
    for col, (key, field, label) in zip(cols, THRESHOLD_INPUTS, strict=True):
        col.number_input(label, 1, 100_000, getattr(DEFAULTS, field), key=key)
at_stake = sum(s.impact or 0.0 for s in suggestions)
st.caption(
    f"Deterministic rules over the program table above (all history), {len(suggestions)} "
    f"suggestion(s) on {len({s.program_id for s in suggestions})} program(s), ≈ "
    f"{_money(at_stake)} of revenue at stake where it can be estimated. Each says what it was "
    "judged against; “could be chance” marks a count the marketplace's own rate gives more than "
    "1 time in 20 by chance alone."
)
if suggestions:
    data_table(
        pl.DataFrame(
            {
                "program": [s.program for s in suggestions],
                "suggestion": [s.headline for s in suggestions],
                "impact": [s.impact for s in suggestions],
                "chance": [s.chance for s in suggestions],
            },
            schema={
                "program": pl.String,
                "suggestion": pl.String,
                "impact": pl.Float64,
                "chance": pl.Float64,
            },
        ),
        key="suggestion_table",
        height=250,
        formats={"impact": "currency", "chance": "percent"},
        labels={
            "program": "Program",
            "suggestion": "Suggestion",
            "impact": "At stake",
            "chance": "Chance alone",
        },
    )
else:
    st.success("No program crossed a rule's threshold.", icon=":material/check_circle:")
st.caption("Each rule, what it was judged against and the numbers behind each program:")
for rule, (headline, action) in RULES.items():
    fired = [s for s in suggestions if s.rule == rule]
    stake = sum(s.impact or 0.0 for s in fired)
    title = f"{headline} — {len(fired)} program(s)" + (
        f", ≈ {_money(stake)} at stake" if stake else ""
    )
    with st.expander(title):
        st.caption(f"Rule: {texts[rule]}.")
        st.markdown(f"*{action}*")
        if not fired:
            st.markdown("No program crossed this threshold.")
        for s in fired:
            stake_text = f" — ≈ {_money(s.impact)} at stake" if s.impact else ""
            chance = " · :orange-badge[could be chance]" if s.could_be_chance else ""
            st.markdown(f"**{s.program}**{stake_text}{chance}  \n{_sentence(s.evidence)}")

# ---- benchmarks by category ------------------------------------------------------------------
st.subheader("Benchmarks by category")
data_table(
    categories.select(
        "category",
        "programs",
        "median_list_price",
        "views",
        "conversion_rate",
        "purchases",
        "net_revenue",
        "net_revenue_per_program",
        "refund_rate",
        "avg_rating",
    ),
    key="category_table",
    formats={
        "programs": "count",
        "median_list_price": "currency",
        "views": "count",
        "conversion_rate": "percent",
        "purchases": "count",
        "net_revenue": "currency",
        "net_revenue_per_program": "currency",
        "refund_rate": "percent",
        "avg_rating": "number",
    },
    labels={
        "category": "Category",
        "programs": "Programs",
        "median_list_price": "Median price",
        "views": "Views",
        "conversion_rate": "Conversion",
        "purchases": "Purchases",
        "net_revenue": "Net revenue",
        "net_revenue_per_program": "Net per program",
        "refund_rate": "Refund rate",
        "avg_rating": "Rating",
    },
    searchable=False,
)
st.caption(
    "Conversion and refund rate are ratios of the category's sums; the rating is weighted by "
    "the number of ratings. All history."
)

# ---- trainers --------------------------------------------------------------------------------
st.subheader("Trainers: revenue and commission")
# Every month of the data (commission is booked per calendar month); the picker opens on the
# month the date range ends in.
by_month = ql.metrics(
    [*TRAINER_METRICS, "net_platform_commission"],
    grain="month",
    start=first_day,
    end=last_day,
    page=PAGE,
)
months_with_sales = [m for m in by_month.frame["period"].to_list() if m is not None]
if not months_with_sales:
    empty_state("No program has been sold yet.")
else:
    long = (
        by_month.frame.select("period", "platform_commission", "trainer_payout")
        .unpivot(index="period", variable_name="part", value_name="amount")
        .with_columns(
            pl.col("part").replace(
                {"platform_commission": "Platform commission", "trainer_payout": "Trainer payout"}
            ),
            pl.col("period").dt.strftime("%b %Y").alias("month"),
        )
    )
    keys = [f"{m:%Y-%m}" for m in months_with_sales]
    wanted = f"{period.end:%Y-%m}"
    default = max((k for k in keys if k <= wanted), default=keys[-1])
    picked = st.selectbox(
        "Month",
        options=keys,
        index=keys.index(default),
        format_func=lambda k: dt.date.fromisoformat(f"{k}-01").strftime("%B %Y"),
        key="trainer_month",
        bind="query-params",
        width=200,
    )
    month = dt.date.fromisoformat(f"{picked or default}-01")
    rows = ql.table("mkt_trainer_revenue", where={"revenue_month": month}, page=PAGE).frame
    trainers = ql.table(
        "dim_trainers",
        columns=["trainer_id", "trainer_handle", "trainer_specialty", "is_inferred"],
        page=PAGE,
    ).frame
    rows = (
        rows.join(trainers, on="trainer_id", how="left")
        .with_columns(
            pl.when(pl.col("is_inferred").fill_null(True))
            .then(pl.coalesce("trainer_handle", "trainer_id") + " (inferred)")
            .otherwise(pl.col("trainer_handle"))
            .alias("trainer")
        )
        .sort(["gross_revenue", "trainer"], descending=[True, False])
    )
    month_totals = ql.metrics(
        [*TRAINER_METRICS, "net_platform_commission"],
        start=month,
        end=_month_end(month),
        page=PAGE,
    )
    st.markdown(
        f"**{month:%B %Y}**: program sales {_money(month_totals.value('trainer_gross_revenue'))}"
        f" = platform commission {_money(month_totals.value('platform_commission'))} + trainer"
        f" payout {_money(month_totals.value('trainer_payout'))}; after the platform's share of "
        f"the month's refunds it keeps {_money(month_totals.value('net_platform_commission'))}."
    )
    left, right = st.columns(2)
    with left:
        show_chart(
            charts.bar_chart(
                long,
                x="month",
                y="amount",
                color="part",
                unit="currency",
                sort="none",
                label_angle=0,
                title="Program sales per month: commission + payout",
                height=240,
            ),
            key="trainer_months_chart",
        )
    with right:
        if rows.height:
            parts = (
                rows.select("trainer", "platform_commission", "trainer_payout")
                .unpivot(index="trainer", variable_name="part", value_name="amount")
                .with_columns(
                    pl.col("part").replace(
                        {
                            "platform_commission": "Platform commission",
                            "trainer_payout": "Trainer payout",
                        }
                    )
                )
            )
            show_chart(
                charts.bar_chart(
                    parts,
                    x="trainer",
                    y="amount",
                    color="part",
                    unit="currency",
                    horizontal=True,
                    title=f"Sales by trainer, {month:%B %Y}",
                    height=120 + 28 * rows.height,
                ),
                key="trainer_chart",
            )
    if rows.is_empty():
        empty_state(f"No trainer sold a program in {month:%B %Y}.")
    else:
        data_table(
            rows.select(
                "trainer",
                "trainer_specialty",
                "purchases",
                "gross_revenue",
                "platform_commission",
                "trainer_payout",
                "effective_commission_rate",
                "refunded_amount",
                "net_revenue",
                "net_trainer_payout",
                "net_platform_commission",
            ),
            key="trainer_table",
            formats={
                "purchases": "count",
                "gross_revenue": "currency",
                "platform_commission": "currency",
                "trainer_payout": "currency",
                "effective_commission_rate": "percent",
                "refunded_amount": "currency",
                "net_revenue": "currency",
                "net_trainer_payout": "currency",
                "net_platform_commission": "currency",
            },
            labels={
                "trainer": "Trainer",
                "trainer_specialty": "Specialty",
                "purchases": "Purchases",
                "gross_revenue": "Gross",
                "platform_commission": "Commission",
                "trainer_payout": "Payout",
                "effective_commission_rate": "Commission rate",
                "refunded_amount": "Refunded",
                "net_revenue": "Net revenue",
                "net_trainer_payout": "Net payout",
                "net_platform_commission": "Net commission",
            },
        )
        st.caption(
            "Net: after the month's refunds (which may be of earlier sales): the trainer's share "
            "of a refund is clawed back from the payout, the rest from the commission."
        )
