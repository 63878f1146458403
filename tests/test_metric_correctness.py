"""Headline metrics of the marts against an independent recomputation (issue 4, Correctness).

The real pipeline runs once per test session (``pulse demo --no-serve`` in a subprocess, shared with
the end-to-end suite: ``demo_run`` in tests/conftest.py). Every metric is then recomputed in polars from the simulator's raw
messages (``sim/events.parquet``: malformed ones per ``ground_truth.json`` removed, and those of
users who had withdrawn analytics consent, which the collector drops; deduplicated on messageId) following the *written* definitions of docs/metrics.md — not the SQL — and compared
with the published marts (``lake.gold.read_mart``). Where the simulator's ground truth knows the
answer (signups, revenue, acceptance per model version, end-of-window plans) the recomputation is
checked against it too, so neither side can drift alone.

Tolerances: counts and rates of counts are exact. Money is summed in floating point on both sides
(DuckDB and polars add in different orders), so money compares to 0.5 cent per day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import orjson
import polars as pl
import pytest

from core.settings import Settings

pytestmark = pytest.mark.integration

MONEY_ABS = 0.005  # USD: float sums in a different order

# The written definitions (docs/metrics.md), restated here independently of the dbt macros.
ACTIVITY_TYPES = ("track", "page", "screen")
NON_ACTIVITY_EVENTS = (
    "Model Deployed",
    "Model Rolled Back",
    "API Request",
    "Subscription Renewed",
    "Payment Failed",
)
SYSTEM_ANONYMOUS_IDS = ("system:recommender",)
GROSS_REVENUE_EVENTS = ("Program Purchased", "Subscription Started", "Subscription Renewed")
REFUND_EVENTS = ("Program Refunded",)
FUNNEL_WINDOW = timedelta(days=14)


@pytest.fixture(scope="module")
def settings(demo_settings) -> Settings:
    """The shared ``pulse demo --no-serve`` run (tests/conftest.py)."""
    return demo_settings


def read_mart(settings: Settings, name: str) -> pl.DataFrame:
    """A published mart (lake.gold: the current publication)."""
    from lake.gold import read_mart as gold_read_mart

    return gold_read_mart(settings, name)


@pytest.fixture(scope="module")
def truth(settings) -> dict:
    return orjson.loads((settings.sim_dir / "ground_truth.json").read_bytes())


@pytest.fixture(scope="module")
def events(settings, truth) -> pl.DataFrame:
    """One row per valid, unique, stored message, with the fields the definitions use."""
    malformed = set(truth["malformed_message_ids"]) | set(truth["consent"]["dropped_message_ids"])
    raw = pl.read_parquet(settings.sim_dir / "events.parquet", columns=["message_id", "payload"])
    raw = raw.filter(
        pl.col("message_id").is_not_null() & ~pl.col("message_id").is_in(malformed)
    ).unique("message_id", keep="first", maintain_order=True)
    p = pl.col("payload")
    out = raw.select(
        "message_id",
        type=p.str.json_path_match("$.type"),
        event=p.str.json_path_match("$.event"),
        user_id=p.str.json_path_match("$.userId"),
        anonymous_id=p.str.json_path_match("$.anonymousId"),
        # The simulator's messages carry no sentAt, so the skew correction is the identity.
        at=p.str.json_path_match("$.timestamp").str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.3fZ", time_unit="us", time_zone="UTC"
        ),
        revenue=p.str.json_path_match("$.properties.revenue").cast(pl.Float64),
        # what a subscription event bills: revenue, or the amount a failed payment tried
        amount=pl.coalesce(
            p.str.json_path_match("$.properties.revenue"),
            p.str.json_path_match("$.properties.amount"),
        ).cast(pl.Float64),
        plan=p.str.json_path_match("$.properties.plan"),
        model_version=p.str.json_path_match("$.properties.model_version"),
        recommendation_id=p.str.json_path_match("$.properties.recommendation_id"),
    ).with_columns(day=pl.col("at").dt.date())
    counts = truth["message_counts"]
    assert out.height == counts["well_formed_unique"] - counts["consent_dropped"]
    return out


def _is_activity() -> pl.Expr:
    return (
        pl.col("type").is_in(ACTIVITY_TYPES)
        & ~pl.col("event").fill_null("").is_in(NON_ACTIVITY_EVENTS)
        & ~pl.col("anonymous_id").fill_null("").is_in(SYSTEM_ANONYMOUS_IDS)
        & pl.col("user_id").is_not_null()
    )


def _days(first: date, last: date) -> pl.DataFrame:
    return pl.DataFrame({"day": pl.date_range(first, last, "1d", eager=True)})


@pytest.fixture(scope="module")
def active(events) -> pl.DataFrame:
    """(user_id, day) pairs with at least one activity event."""
    return events.filter(_is_activity()).select("user_id", "day").unique()


def _trailing_active(active: pl.DataFrame, days: pl.DataFrame, width: int) -> pl.DataFrame:
    """Distinct active users in the trailing ``width`` days including each day."""
    rows = []
    for (day,) in days.iter_rows():
        window = active.filter(
            (pl.col("day") > day - timedelta(days=width)) & (pl.col("day") <= day)
        )
        rows.append({"day": day, "users": window["user_id"].n_unique()})
    return pl.DataFrame(rows)


# ---- DAU, WAU, MAU -----------------------------------------------------------------------------


def test_dau_matches_exec_kpis_and_engagement_mart(settings, events, active):
    expected = active.group_by("day").agg(dau=pl.len())
    days = _days(events["day"].min(), events["day"].max())
    expected = days.join(expected, on="day", how="left").fill_null(0).sort("day")

    kpis = read_mart(settings, "exec_daily_kpis").sort("kpi_date")
    assert kpis["kpi_date"].to_list() == expected["day"].to_list()
    assert kpis["dau"].to_list() == expected["dau"].to_list()

    eng = read_mart(settings, "eng_active_users_daily").sort("activity_date")
    assert eng["activity_date"].to_list() == expected["day"].to_list()
    assert eng["dau"].to_list() == expected["dau"].to_list()


def test_wau_mau_and_stickiness_are_trailing_distinct_counts(settings, events, active):
    days = _days(events["day"].min(), events["day"].max())
    wau = _trailing_active(active, days, 7)
    mau = _trailing_active(active, days, 30)
    eng = read_mart(settings, "eng_active_users_daily").sort("activity_date")
    assert eng["wau"].to_list() == wau["users"].to_list()
    assert eng["mau"].to_list() == mau["users"].to_list()
    # stickiness = DAU / MAU (exact ratio of two exact counts)
    for dau, m, got in zip(eng["dau"], eng["mau"], eng["stickiness"], strict=True):
        assert got == pytest.approx(dau / m if m else 0.0, abs=1e-9)
    # the last day's MAU covers a full 30-day window
    assert eng["mau"][-1] >= eng["wau"][-1] >= eng["dau"][-1] > 0


# ---- new users ---------------------------------------------------------------------------------


def test_new_users_match_signups_and_ground_truth(settings, events, truth):
    signups = events.filter(pl.col("event") == "Signed Up")
    expected = signups.group_by("day").agg(new_users=pl.col("user_id").n_unique())
    kpis = read_mart(settings, "exec_daily_kpis")
    joined = kpis.join(expected, left_on="kpi_date", right_on="day", how="left").fill_null(0)
    assert joined["new_users"].to_list() == joined["new_users_right"].to_list()
    # Ground truth: every member who signed up inside the window, exactly once.
    assert kpis["new_users"].sum() == truth["new_user_count"]
    users = pl.read_parquet(settings.sim_dir / "users.parquet")
    in_window = users.filter(
        pl.col("signup_at").dt.date() >= date.fromisoformat(truth["start_date"])
    )
    by_day = in_window.group_by(day=pl.col("signup_at").dt.date()).agg(n=pl.len())
    joined = kpis.join(by_day, left_on="kpi_date", right_on="day", how="left").fill_null(0)
    assert joined["new_users"].to_list() == joined["n"].to_list()


# ---- revenue -----------------------------------------------------------------------------------


def test_daily_revenue_matches_and_totals_match_ground_truth(settings, events, truth):
    expected = events.group_by("day").agg(
        gross=pl.col("revenue").filter(pl.col("event").is_in(GROSS_REVENUE_EVENTS)).sum(),
        refunds=pl.col("revenue").abs().filter(pl.col("event").is_in(REFUND_EVENTS)).sum(),
    )
    kpis = read_mart(settings, "exec_daily_kpis")
    joined = kpis.join(expected, left_on="kpi_date", right_on="day", how="left").fill_null(0.0)
    for row in joined.iter_rows(named=True):
        assert row["gross_revenue"] == pytest.approx(row["gross"], abs=MONEY_ABS), row["kpi_date"]
        assert row["refunds"] == pytest.approx(row["refunds_right"], abs=MONEY_ABS)
        assert row["revenue"] == pytest.approx(row["gross"] - row["refunds_right"], abs=MONEY_ABS)
    money = truth["revenue_usd"]  # what the simulator charged and refunded, in the window
    assert kpis["subscription_revenue"].sum() == pytest.approx(money["subscriptions"], abs=0.01)
    assert kpis["program_revenue"].sum() == pytest.approx(money["programs"], abs=0.01)
    assert kpis["refunds"].sum() == pytest.approx(money["refunds"], abs=0.01)


def test_revenue_by_stream_agrees_with_exec_kpis(settings):
    """rev_daily_by_stream splits each day's net revenue by stream: the streams add up to it."""
    streams = read_mart(settings, "rev_daily_by_stream")
    kpis = read_mart(settings, "exec_daily_kpis")
    per_day = streams.group_by("revenue_date").agg(pl.col("net_revenue").sum())
    joined = kpis.join(per_day, left_on="kpi_date", right_on="revenue_date", how="left")
    for got, want in zip(joined["net_revenue"].fill_null(0.0), joined["revenue"], strict=True):
        assert got == pytest.approx(want, abs=MONEY_ABS)


# ---- MRR ---------------------------------------------------------------------------------------


SUBSCRIPTION_EVENTS = (
    "Subscription Started",
    "Subscription Renewed",
    "Payment Failed",
    "Subscription Cancelled",
)
GRACE = timedelta(days=7)


def _add_months(day: date, months: int) -> date:
    import calendar

    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _expected_mrr(events: pl.DataFrame, days: pl.DataFrame, users: pl.DataFrame) -> pl.DataFrame:
    """MRR at the end of each day, per docs/metrics.md: a subscriber counts from a Subscription
    Started/Renewed (the payment) until a Subscription Cancelled, or until one billing period +
    7 days of grace pass without a renewal; after a Payment Failed the subscription is past due
    and still counts for 7 days. A user whose first subscription event in the data is not a
    Started was already subscribed when the data begins (an opening balance on that plan). A user
    with no subscription event at all who is on a paid plan in the app's users table (``users``)
    is subscribed from the first day (or the signup day, if later). Each counts the plan's billed
    amount per month (monthly as is, annual / 12)."""
    subs = events.filter(pl.col("event").is_in(SUBSCRIPTION_EVENTS))
    price = (
        subs.filter(pl.col("event").is_in(["Subscription Started", "Subscription Renewed"]))
        .sort("at")
        .group_by("plan")
        .agg(price=pl.col("revenue").last())
    )
    prices = dict(price.iter_rows())
    first_day = days["day"].min()

    def monthly(plan: str | None, amount: float | None) -> float:
        amount = prices.get(plan) if amount is None else amount
        if amount is None:
            return 0.0
        return amount / 12.0 if plan and "annual" in plan else amount

    per_user = subs.sort("at").partition_by("user_id", as_dict=False)
    silent_subscribers = users.filter(
        (pl.col("plan") != "free") & ~pl.col("user_id").is_in(subs["user_id"].unique().implode())
    ).select("plan", signup_day=pl.col("signup_at").dt.date())
    rows = []
    for (day,) in days.iter_rows():
        mrr, paying = 0.0, 0
        for plan, signup_day in silent_subscribers.iter_rows():
            if day >= signup_day:
                mrr += monthly(plan, None)
                paying += 1
        for user_events in per_user:
            first = user_events.row(0, named=True)
            before = user_events.filter(pl.col("day") <= day)
            if before.is_empty():
                if first["event"] != "Subscription Started":  # opening balance
                    mrr += monthly(first["plan"], None)
                    paying += 1
                continue
            last = before.row(-1, named=True)
            if last["event"] == "Subscription Cancelled":
                continue
            if last["event"] == "Payment Failed":
                counts = day < last["day"] + GRACE
            else:
                period = 12 if "annual" in (last["plan"] or "") else 1
                counts = day < _add_months(last["day"], period) + GRACE
            if counts:
                mrr += monthly(last["plan"], last["amount"])
                paying += 1
        rows.append({"day": day, "mrr": mrr, "paying_subscribers": paying})
    assert first_day == rows[0]["day"]
    return pl.DataFrame(rows)


def test_mrr_follows_subscription_events(settings, events, truth):
    days = _days(events["day"].min(), events["day"].max())
    users = pl.read_parquet(settings.sim_dir / "users.parquet")
    expected = _expected_mrr(events, days, users)
    mart = read_mart(settings, "rev_mrr_daily")
    joined = expected.join(mart, left_on="day", right_on="mrr_date", how="left")
    assert joined["mrr_right"].null_count() == 0
    for row in joined.iter_rows(named=True):
        assert row["mrr_right"] == pytest.approx(row["mrr"], abs=MONEY_ABS), row["day"]
        assert row["paying_subscribers_right"] == row["paying_subscribers"], row["day"]

    # Ground truth: the app's plans at the end of the window (users.parquet), every paying user,
    # including those who send no subscription event inside the window (annual plans renewed
    # before it), whom the users export seeds.
    with_events = events.filter(pl.col("event").is_in(SUBSCRIPTION_EVENTS))["user_id"].unique()
    silent = users.filter(
        ~pl.col("user_id").is_in(with_events.implode()) & (pl.col("plan") != "free")
    )
    assert silent.height > 0  # the world has subscribers only the export reveals
    visible = users.filter(pl.col("plan") != "free")
    true_mrr = sum(
        (prices := {"premium_monthly": 14.99, "premium_annual": 119.99 / 12}).get(p, 0.0)
        for p in visible["plan"]
    )
    assert prices  # the simulator's catalog prices (lake/simulator/catalog.py)
    # Users who withdrew analytics consent: the lake lacks part of their subscription events, so
    # the app's table and the events disagree on them by construction; compare everyone else.
    withdrawn = truth["consent"]["withdrawn_users"]
    visible = visible.filter(~pl.col("user_id").is_in(withdrawn))
    true_mrr = sum(prices.get(p, 0.0) for p in visible["plan"])
    theirs = _expected_mrr(
        events.filter(pl.col("user_id").is_in(withdrawn)),
        days,
        users.filter(pl.col("user_id").is_in(withdrawn)),
    ).row(-1, named=True)
    last = joined.row(-1, named=True)
    assert last["mrr_right"] - theirs["mrr"] == pytest.approx(true_mrr, abs=0.01)
    assert last["paying_subscribers_right"] - theirs["paying_subscribers"] == visible.height


# ---- week-1 retention of one cohort -------------------------------------------------------------


def _signups(events: pl.DataFrame) -> pl.DataFrame:
    """Each member's first Signed Up: signup time, (UTC) signup date, ISO week (Monday) cohort."""
    return (
        events.filter((pl.col("event") == "Signed Up") & pl.col("user_id").is_not_null())
        .group_by("user_id")
        .agg(signed_up_at=pl.col("at").min())
        .with_columns(signup_date=pl.col("signed_up_at").dt.date())
        .with_columns(
            cohort_start=pl.col("signup_date")
            - pl.duration(days=pl.col("signup_date").dt.weekday() - 1)
        )
    )


@pytest.mark.parametrize("period_grain", ["day", "week"])
@pytest.mark.parametrize("window_type", ["calendar", "rolling_24h"])
def test_week_one_retention_of_one_weekly_cohort(settings, events, window_type, period_grain):
    """The first weekly cohort that starts inside the data (members who signed up in that ISO
    week). Its week-1 retention is day-7 retention (docs/metrics.md): the share of the cohort with
    an activity event on day 7 after signup — the 7th calendar day after the signup date, or the
    7th 24-hour window after the signup instant — (n_day), or on day 7 or any later day
    (unbounded). At week grain: period 1 = the next calendar week (Monday start) after the
    signup's week, or hours 168..335 after the signup instant."""
    signups = _signups(events)
    first_day = events["day"].min()
    cohort_start = signups.filter(pl.col("cohort_start") >= first_day)["cohort_start"].min()
    cohort = signups.filter(pl.col("cohort_start") == cohort_start)
    activity = (
        events.filter(_is_activity())
        .select("user_id", "at", "day")
        .join(cohort, on="user_id")
        .filter(pl.col("at") >= pl.col("signed_up_at"))
    )
    if window_type == "calendar" and period_grain == "day":
        period = (pl.col("day") - pl.col("signup_date")).dt.total_days()
    elif window_type == "calendar":
        monday = pl.col("day") - pl.duration(days=pl.col("day").dt.weekday() - 1)
        period = (monday - pl.col("cohort_start")).dt.total_days() // 7
    else:
        period_us = 86_400_000_000 * (1 if period_grain == "day" else 7)
        period = (pl.col("at") - pl.col("signed_up_at")).dt.total_microseconds() // period_us
    week_one = 7 if period_grain == "day" else 1
    activity = activity.with_columns(period=period)
    n_day = activity.filter(pl.col("period") == week_one)["user_id"].n_unique()
    unbounded = activity.filter(pl.col("period") >= week_one)["user_id"].n_unique()
    assert cohort.height > 0 and unbounded > 0

    mart = read_mart(settings, "eng_cohort_retention").filter(
        (pl.col("cohort_grain") == "week")
        & (pl.col("cohort_start") == cohort_start)
        & (pl.col("window_type") == window_type)
        & (pl.col("period_grain") == period_grain)
        & (pl.col("period_number") == week_one)
    )
    got = {row["retention_kind"]: row for row in mart.iter_rows(named=True)}
    assert set(got) == {"n_day", "unbounded"}
    for kind, want in (("n_day", n_day), ("unbounded", unbounded)):
        assert got[kind]["cohort_size"] == cohort.height
        assert got[kind]["retained_users"] == want, kind
        assert got[kind]["retention_rate"] == pytest.approx(want / cohort.height, abs=1e-12)


# ---- signup → purchase conversion --------------------------------------------------------------


def test_signup_to_purchase_conversion(settings, events, truth):
    """Per signed-up member: converted to a purchase when a Program Purchased happens at most
    14 days (336 h) after the first Signed Up; converted (paid) when a Program Purchased or a
    Subscription Started does. Conversion rate = converted / signups, by signup date."""
    signups = _signups(events).select("user_id", "signed_up_at")

    def first(event_names: list[str], name: str) -> pl.DataFrame:
        return (
            events.filter(pl.col("event").is_in(event_names))
            .join(signups, on="user_id")
            .filter(pl.col("at") >= pl.col("signed_up_at"))
            .group_by("user_id")
            .agg(pl.col("at").min().alias(name))
        )

    within = pl.duration(days=14)
    expected = (
        signups.join(first(["Program Purchased"], "purchase_at"), on="user_id", how="left")
        .join(
            first(["Program Purchased", "Subscription Started"], "paid_at"),
            on="user_id",
            how="left",
        )
        .with_columns(
            purchased=(pl.col("purchase_at") - pl.col("signed_up_at") <= within).fill_null(False),
            paid=(pl.col("paid_at") - pl.col("signed_up_at") <= within).fill_null(False),
            signup_date=pl.col("signed_up_at").dt.date(),
        )
    )
    funnel = read_mart(settings, "eng_signup_funnel")
    joined = expected.join(funnel, on="user_id", how="full", coalesce=True)
    assert joined.height == expected.height == funnel.height
    assert joined.filter(
        (pl.col("purchased") != pl.col("converted_purchase_within_window"))
        | (pl.col("paid") != pl.col("converted_within_window"))
    ).is_empty()
    assert expected["purchased"].sum() > 0

    daily = read_mart(settings, "eng_signup_funnel_daily")
    per_day = expected.group_by("signup_date").agg(
        n=pl.len(), purchased=pl.col("purchased").sum(), paid=pl.col("paid").sum()
    )
    joined = per_day.join(daily, on="signup_date", how="full", coalesce=True)
    assert joined["n"].to_list() == joined["signups"].to_list()
    assert joined["purchased"].to_list() == joined["purchase_within_window"].to_list()
    for row in joined.iter_rows(named=True):
        assert row["conversion_rate"] == pytest.approx(row["paid"] / row["n"], abs=1e-12)
    # The whole window's signup → purchase conversion rate, as a dashboard shows it.
    rate = daily["purchase_within_window"].sum() / daily["signups"].sum()
    assert rate == pytest.approx(expected["purchased"].mean(), abs=1e-12)


# ---- recommendation acceptance rate ------------------------------------------------------------


def _personalization_changes(settings: Settings, truth: dict) -> dict[str, list[tuple]]:
    """user_id -> [(time, personalization)] from the stored consent messages, oldest first:
    `Consent Updated` properties and identify `traits.consent`. Messages the consent gate drops
    from the events are still in the consent ledger, so they count here."""
    raw = pl.read_parquet(settings.sim_dir / "events.parquet", columns=["message_id", "payload"])
    malformed = set(truth["malformed_message_ids"])
    changes: dict[str, list[tuple]] = {}
    seen = set()
    for mid, payload in raw.iter_rows():
        if mid is None or mid in malformed or mid in seen or "onsent" not in payload:
            continue
        seen.add(mid)
        msg = orjson.loads(payload)
        if msg.get("event") == "Consent Updated":
            flags = msg.get("properties") or {}
        elif msg.get("type") == "identify":
            flags = (msg.get("traits") or {}).get("consent") or {}
        else:
            continue
        if isinstance(flags.get("personalization"), bool) and msg.get("userId"):
            at = datetime.fromisoformat(msg["timestamp"].replace("Z", "+00:00"))
            changes.setdefault(msg["userId"], []).append((at, flags["personalization"]))
    return {user: sorted(c) for user, c in changes.items()}


def _consented(changes: list[tuple], at) -> bool:
    state = True  # no record: the default, PULSE_CONSENT_DEFAULT=granted
    for when, value in changes:
        if when > at:
            break
        state = value
    return state


def test_recommendation_acceptance_rate_per_model_version(settings, events, truth):
    """Acceptance rate = recommendations accepted / recommendations shown, a recommendation being
    one recommendation_id, counted on the day it was shown, under the model version that made it;
    accepted when the member's first response to it is Recommendation Accepted."""
    recs = events.filter(pl.col("event").str.starts_with("Recommendation "))
    shown = recs.filter(pl.col("event") == "Recommendation Shown").select(
        "recommendation_id", "model_version", "day"
    )
    # The member's first response (accepted, rejected or modified) is the outcome.
    responses = ["Recommendation Accepted", "Recommendation Rejected", "Recommendation Modified"]
    accepted = (
        recs.filter(pl.col("event").is_in(responses))
        .sort("at")
        .group_by("recommendation_id")
        .agg(first=pl.col("event").first())
        .select("recommendation_id", accepted=(pl.col("first") == responses[0]).cast(pl.Int64))
    )
    per_rec = shown.join(accepted, on="recommendation_id", how="left").fill_null(0)
    # Personalization analytics use only recommendations shown while the member had
    # personalization consent (docs/privacy.md): the latest consent message at or before the
    # show decides; without one the default (granted) holds.
    consent = _personalization_changes(settings, truth)
    shown_at = recs.filter(pl.col("event") == "Recommendation Shown").select(
        "recommendation_id", "user_id", "at"
    )
    allowed = {
        rid for rid, user, at in shown_at.iter_rows() if _consented(consent.get(user, []), at)
    }
    per_rec = per_rec.filter(pl.col("recommendation_id").is_in(list(allowed)))
    by_version = per_rec.group_by("model_version").agg(
        shown=pl.len(), accepted=pl.col("accepted").sum()
    )
    # Ground truth: the simulator's own counts (recommendation events are never corrupted).
    for row in by_version.iter_rows(named=True):
        want = truth["model_acceptance"][row["model_version"]]
        assert row["shown"] == want["shown"]
        assert round(row["accepted"] / row["shown"], 4) == want["acceptance_rate"]

    mart = read_mart(settings, "ai_recommendation_daily")
    got = mart.group_by("model_version").agg(pl.col("shown").sum(), pl.col("accepted").sum())
    joined = by_version.join(got, on="model_version", how="full", coalesce=True).sort(
        "model_version"
    )
    assert joined["shown"].to_list() == joined["shown_right"].to_list()
    assert joined["accepted"].to_list() == joined["accepted_right"].to_list()

    daily = per_rec.group_by("day", "model_version").agg(
        shown=pl.len(), accepted=pl.col("accepted").sum()
    )
    got_daily = mart.group_by("activity_date", "model_version").agg(
        pl.col("shown").sum(), pl.col("accepted").sum()
    )
    joined = daily.join(
        got_daily,
        left_on=["day", "model_version"],
        right_on=["activity_date", "model_version"],
        how="full",
        coalesce=True,
    )
    assert joined.filter(
        (pl.col("shown") != pl.col("shown_right"))
        | (pl.col("accepted") != pl.col("accepted_right"))
    ).is_empty()
    # acceptance_rate of each mart row is its own accepted / shown
    for row in mart.iter_rows(named=True):
        if row["shown"]:
            assert row["acceptance_rate"] == pytest.approx(row["accepted"] / row["shown"], abs=1e-9)
