"""Marketplace analytics over the program performance table: program labels, benchmarks by
category, and revenue-optimisation suggestions.

The input is one row per program as ``mkt_program_performance`` has it (all history; or a
date range's, from ``mkt_program_member_daily`` by :func:`programs_in_range`: views,
viewers, purchases, purchasers, conversion_rate = purchasers / viewers, gross_revenue,
refunds, refunded_amount, net_revenue, refund_rate = refunds / purchases, ratings, avg_rating,
list_price, category), joined with ``dim_programs``' ``program_title`` and ``is_inferred``.
The dashboards read both through ``QueryLayer.table``; reports can pass the same frame.

The suggestions are deterministic rules, no model: each compares one program with the
marketplace (a median or a quantile over the programs, or the marketplace-wide rate) and says
which threshold it crossed and by how much, with an estimate of the revenue at stake where one
follows from the numbers. Small samples make noisy rates, so each rate is judged only with a
minimum of evidence (viewers, purchases, ratings: :class:`Thresholds`), and a rule over a
count says how often the marketplace's own rate would give a count that far off by chance alone
(a Poisson or binomial tail, ``Suggestion.chance``): above 1 in 20, it "could be chance".

Rules (in the order they are listed):

- ``low_conversion`` — many views, few buyers: views at or above the busiest quarter's
  threshold, enough viewers, and conversion at most half the marketplace median. At stake: the
  sales it would have made at the median conversion, at its list price.
- ``high_refund_rate`` — enough purchases and a refund rate at least twice the marketplace's
  (and at least 10 %). At stake: the refunds above what the marketplace rate would give.
- ``few_ratings`` — a top seller (the top quarter of the programs with sales, by net revenue)
  with fewer than half the marketplace median of ratings: social proof is missing where sales
  are made.
- ``under_exposed`` — converts at least twice the marketplace median (with at least two
  buyers) on at most the median number of views. At stake: the sales more views would bring at
  its own conversion, if it had the busiest quarter's views.
- ``low_rating`` — enough ratings and an average rating at least half a star below the median.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

RULES: dict[str, tuple[str, str]] = {
    "low_conversion": (
        "Many views, few buyers",
        "Review its price, description and preview: the traffic is there, the sales are not.",
    ),
    "high_refund_rate": (
        "High refund rate",
        "Check what buyers expected and what they got (level, length, content) with the trainer.",
    ),
    "few_ratings": (
        "Top seller with few ratings",
        "Ask its buyers for ratings: social proof helps where sales are already made.",
    ),
    "under_exposed": (
        "Converts well, seen little",
        "Feature it (home screen, recommendations, search): it sells to those who see it.",
    ),
    "low_rating": (
        "Rated low",
        "Review its workouts with the trainer: members rate them well below the marketplace.",
    ),
}
REQUIRED = (
    "program_id",
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
    "ratings",
    "avg_rating",
    "list_price",
)


@dataclass(frozen=True)
class Thresholds:
    """What each rule needs to fire. Quantiles are over all programs of the table."""

    min_viewers: int = 20  # conversion is judged only with this many viewers
    high_traffic_quantile: float = 0.75  # "many views": views at or above this quantile
    low_conversion_factor: float = 0.5  # "few buyers": conversion <= this x the median
    min_purchases: int = 3  # a refund rate is judged only with this many purchases
    refund_rate_factor: float = 2.0  # "high": >= this x the marketplace refund rate ...
    min_refund_rate: float = 0.10  # ... and at least this
    top_seller_share: float = 0.25  # top sellers: this share of the programs with sales
    few_ratings_factor: float = 0.5  # "few ratings": fewer than this x the median ratings
    high_conversion_factor: float = 2.0  # "converts well": >= this x the median conversion ...
    min_buyers_to_promote: int = 2  # ... with at least this many buyers ...
    low_traffic_quantile: float = 0.5  # ... on views at most this quantile
    min_ratings: int = 5  # an average rating is judged only with this many ratings
    low_rating_gap: float = 0.5  # "rated low": at least this many stars below the median


@dataclass(frozen=True)
class Benchmarks:
    """The marketplace figures the rules compare a program with."""

    programs: int
    high_traffic_views: float | None  # views at the high-traffic quantile
    low_traffic_views: float | None  # views at the low-traffic quantile
    median_conversion: float | None  # over programs with enough viewers
    judged_for_conversion: int  # how many programs have enough viewers
    marketplace_refund_rate: float | None  # all refunds / all purchases
    refund_rate_threshold: float | None
    programs_with_sales: int
    top_sellers: tuple[str, ...]  # program ids, best first
    top_seller_net_revenue: float | None  # the smallest net revenue among them
    median_ratings: float | None
    median_rating: float | None  # over programs with enough ratings


@dataclass(frozen=True)
class Suggestion:
    """One rule that fired for one program, with the numbers behind it."""

    rule: str
    program_id: str
    program: str  # its label (title; "(inferred)" when the app's export does not list it)
    headline: str
    action: str
    evidence: str  # the program's numbers, in words
    threshold: str  # what it was judged against
    value: float  # the program's figure the rule judged (a rate, a count or stars)
    benchmark: float  # the threshold it crossed
    impact: float | None = None  # revenue at stake, USD, over the table's history
    chance: float | None = None  # how often the marketplace's own rate would give a count this
    # far off by chance alone (Poisson / binomial tail), for the rules that judge a rate

    @property
    def could_be_chance(self) -> bool:
        """True when chance alone gives a count this far off more than 1 time in 20."""
        return self.chance is not None and self.chance > 0.05


def _money(value: float) -> str:
    return f"${value:,.2f}" if abs(value) < 100 else f"${value:,.0f}"


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0")


def poisson_at_most(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean)."""
    if mean <= 0:
        return 1.0
    return min(
        1.0, sum(math.exp(i * math.log(mean) - mean - math.lgamma(i + 1)) for i in range(k + 1))
    )


def poisson_at_least(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean)."""
    return 1.0 if k <= 0 else max(0.0, 1.0 - poisson_at_most(k - 1, mean))


def binomial_at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (no overflow for large n)."""
    if k <= 0:
        return 1.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k, n + 1):
        log_comb = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
        total += math.exp(log_comb + i * log_p + (n - i) * log_q)
    return min(1.0, total)


def program_label(program_id: str, title: str | None, is_inferred: bool | None = False) -> str:
    """What a program is called on a page: its title; a program the app's export does not
    list yet (an inferred member of dim_programs) is marked, and named by its id when the events
    gave no title."""
    name = title.strip() if isinstance(title, str) and title.strip() else program_id
    return f"{name} (inferred)" if is_inferred else name


def label_programs(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with a ``program`` column: each program's label, made unique by its id where
    two programs share a title (a chart's click reads the label back)."""
    titles = frame["program_title"] if "program_title" in frame.columns else [None] * frame.height
    inferred = frame["is_inferred"] if "is_inferred" in frame.columns else [False] * frame.height
    labels = [
        program_label(pid, title, bool(flag))
        for pid, title, flag in zip(frame["program_id"], titles, inferred, strict=True)
    ]
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    unique = [
        f"{label} · {pid}" if counts[label] > 1 else label
        for label, pid in zip(labels, frame["program_id"], strict=True)
    ]
    return frame.with_columns(pl.Series("program", unique, dtype=pl.String))


# The columns of mkt_program_member_daily that a range totals.
DAILY_SUMS = (
    "views",
    "purchases",
    "gross_revenue",
    "refunds",
    "refunded_amount",
    "trainer_payout",
    "rating_sum",
    "ratings",
)
# What a program keeps whatever the range (its latest values over all history).
ATTRIBUTES = ("program_id", "trainer_id", "category", "list_price")


def programs_in_range(daily: pl.DataFrame, attributes: pl.DataFrame) -> pl.DataFrame:
    """The program table over a date range, with ``mkt_program_performance``'s columns and
    definitions: ``daily`` holds the range's rows of ``mkt_program_member_daily`` (one per
    program, member and day), ``attributes`` each program's trainer, category and list price.
    Viewers (buyers) are the distinct members with a view (purchase) in the range; conversion
    = buyers / viewers; refund rate = refunds / purchases; the average rating is over the
    range's ratings. Programs with no activity in the range are left out."""
    missing = [c for c in ("program_id", "member_id", *DAILY_SUMS) if c not in daily.columns]
    if missing:
        raise ValueError(
            f"the daily program table lacks {', '.join(missing)}: pass the rows of "
            "mkt_program_member_daily"
        )
    totals = daily.group_by("program_id").agg(
        *[pl.col(c).sum() for c in DAILY_SUMS],
        pl.col("member_id").filter(pl.col("views") > 0).n_unique().alias("viewers"),
        pl.col("member_id").filter(pl.col("purchases") > 0).n_unique().alias("purchasers"),
    )
    return (
        totals.join(attributes.select(ATTRIBUTES), on="program_id", how="left")
        .with_columns(
            conversion_rate=pl.when(pl.col("viewers") > 0).then(
                pl.col("purchasers") / pl.col("viewers")
            ),
            net_revenue=pl.col("gross_revenue") - pl.col("refunded_amount"),
            refund_rate=pl.when(pl.col("purchases") > 0).then(
                pl.col("refunds") / pl.col("purchases")
            ),
            platform_commission=pl.col("gross_revenue") - pl.col("trainer_payout"),
            avg_rating=pl.when(pl.col("ratings") > 0).then(
                pl.col("rating_sum") / pl.col("ratings")
            ),
        )
        .drop("rating_sum")
        .sort("program_id")
    )


def _check(frame: pl.DataFrame, columns: Iterable[str] = REQUIRED) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the program table lacks {', '.join(missing)}: pass mkt_program_performance's "
            "columns (joined with dim_programs' program_title and is_inferred)"
        )


def _quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile as an observed value (the smallest value with at least ``q`` of the
    values at or below it), so a threshold reads as a real count: "views >= 28"."""
    data = sorted(float(v) for v in values if v is not None)
    if not data:
        return None
    index = min(len(data) - 1, max(0, math.ceil(q * len(data)) - 1))
    return data[index]


def _median(values: Iterable[float | None]) -> float | None:
    data = sorted(float(v) for v in values if v is not None and v == v)
    if not data:
        return None
    mid = len(data) // 2
    return data[mid] if len(data) % 2 else (data[mid - 1] + data[mid]) / 2


def benchmarks(frame: pl.DataFrame, thresholds: Thresholds | None = None) -> Benchmarks:
    """The marketplace medians, quantiles and rates the rules compare each program with."""
    t = thresholds or Thresholds()
    _check(frame)
    views = frame["views"].to_list()
    judged = frame.filter(
        (pl.col("viewers") >= t.min_viewers) & pl.col("conversion_rate").is_not_null()
    )
    purchases = int(frame["purchases"].sum())
    refund_rate = float(frame["refunds"].sum()) / purchases if purchases else None
    sold = frame.filter(pl.col("net_revenue") > 0).sort(
        ["net_revenue", "program_id"], descending=[True, False]
    )
    top_n = math.ceil(t.top_seller_share * sold.height) if sold.height else 0
    top = sold.head(top_n)
    rated = frame.filter(pl.col("ratings") >= t.min_ratings)
    return Benchmarks(
        programs=frame.height,
        high_traffic_views=_quantile(views, t.high_traffic_quantile),
        low_traffic_views=_quantile(views, t.low_traffic_quantile),
        median_conversion=_median(judged["conversion_rate"].to_list()),
        judged_for_conversion=judged.height,
        marketplace_refund_rate=refund_rate,
        refund_rate_threshold=None
        if refund_rate is None
        else max(t.refund_rate_factor * refund_rate, t.min_refund_rate),
        programs_with_sales=sold.height,
        top_sellers=tuple(top["program_id"].to_list()),
        top_seller_net_revenue=float(top["net_revenue"].min()) if top.height else None,
        median_ratings=_median(frame["ratings"].to_list()),
        median_rating=_median(rated["avg_rating"].to_list()),
    )


def rule_thresholds(bench: Benchmarks, thresholds: Thresholds | None = None) -> dict[str, str]:
    """Each rule's threshold in words, with the marketplace's numbers (shown even when the rule
    fired for no program)."""
    t = thresholds or Thresholds()
    out: dict[str, str] = {}
    if bench.median_conversion and bench.high_traffic_views is not None:
        out["low_conversion"] = (
            f"views ≥ {_num(bench.high_traffic_views)} (the busiest "
            f"{1 - t.high_traffic_quantile:.0%} of programs), ≥ {t.min_viewers} viewers and "
            f"conversion ≤ {_pct(t.low_conversion_factor * bench.median_conversion)} "
            f"({t.low_conversion_factor:g} × the marketplace median of "
            f"{_pct(bench.median_conversion)} over the {bench.judged_for_conversion} programs "
            f"with ≥ {t.min_viewers} viewers)"
        )
    else:
        out["low_conversion"] = (
            f"needs a marketplace median conversion above zero (programs with ≥ "
            f"{t.min_viewers} viewers): there is none yet"
        )
    if bench.refund_rate_threshold is not None and bench.marketplace_refund_rate is not None:
        out["high_refund_rate"] = (
            f"≥ {t.min_purchases} purchases and refund rate ≥ "
            f"{_pct(bench.refund_rate_threshold)} (the larger of {t.refund_rate_factor:g} × the "
            f"marketplace's {_pct(bench.marketplace_refund_rate)} and {_pct(t.min_refund_rate)})"
        )
    else:
        out["high_refund_rate"] = "needs purchases in the marketplace: there are none yet"
    if bench.top_sellers and bench.median_ratings is not None:
        out["few_ratings"] = (
            f"among the top {t.top_seller_share:.0%} of the {bench.programs_with_sales} programs "
            f"with sales by net revenue (≥ {_money(bench.top_seller_net_revenue or 0.0)}) and "
            f"fewer than {t.few_ratings_factor * bench.median_ratings:g} ratings "
            f"({t.few_ratings_factor:g} × the median of {_num(bench.median_ratings)})"
        )
    else:
        out["few_ratings"] = "needs programs with sales: there are none yet"
    if bench.median_conversion and bench.low_traffic_views is not None:
        out["under_exposed"] = (
            f"conversion ≥ {_pct(t.high_conversion_factor * bench.median_conversion)} "
            f"({t.high_conversion_factor:g} × the median), ≥ {t.min_buyers_to_promote} buyers "
            f"and views ≤ {_num(bench.low_traffic_views)} (the median program's)"
        )
    else:
        out["under_exposed"] = "needs a marketplace median conversion above zero: there is none yet"
    if bench.median_rating is not None:
        out["low_rating"] = (
            f"≥ {t.min_ratings} ratings and an average ≤ "
            f"{bench.median_rating - t.low_rating_gap:.2f} stars ({t.low_rating_gap:g} below the "
            f"median of {bench.median_rating:.2f} over programs with ≥ {t.min_ratings} ratings)"
        )
    else:
        out["low_rating"] = f"needs programs with ≥ {t.min_ratings} ratings: there are none yet"
    return out


def suggest(
    frame: pl.DataFrame, thresholds: Thresholds | None = None
) -> tuple[Benchmarks, list[Suggestion]]:
    """The marketplace benchmarks and the suggestions for ``frame``'s programs, the largest
    revenue at stake first (then by rule, then program id: the same table always gives the
    same list)."""
    t = thresholds or Thresholds()
    _check(frame)
    if "program" not in frame.columns:
        frame = label_programs(frame)
    bench = benchmarks(frame, t)
    texts = rule_thresholds(bench, t)
    out: list[Suggestion] = []

    def add(
        rule: str,
        row: dict,
        evidence: str,
        value: float,
        benchmark: float,
        impact: float | None = None,
        chance: float | None = None,
    ) -> None:
        headline, action = RULES[rule]
        if chance is not None:
            evidence += f" (chance alone gives this {_pct(chance)} of the time)"
        out.append(
            Suggestion(
                rule=rule,
                program_id=row["program_id"],
                program=row["program"],
                headline=headline,
                action=action,
                evidence=evidence,
                threshold=texts[rule],
                value=value,
                benchmark=benchmark,
                impact=None if impact is None else round(float(impact), 2),
                chance=None if chance is None else round(chance, 4),
            )
        )

    median_conv = bench.median_conversion
    top = set(bench.top_sellers)
    for row in frame.sort("program_id").iter_rows(named=True):
        price = float(row["list_price"] or 0.0)
        conv = row["conversion_rate"]
        viewers, views = int(row["viewers"] or 0), int(row["views"] or 0)
        purchasers, purchases = int(row["purchasers"] or 0), int(row["purchases"] or 0)

        if (
            median_conv
            and conv is not None
            and bench.high_traffic_views is not None
            and viewers >= t.min_viewers
            and views >= bench.high_traffic_views
            and conv <= t.low_conversion_factor * median_conv
        ):
            expected = viewers * median_conv
            missed = max(expected - purchasers, 0.0)
            add(
                "low_conversion",
                row,
                f"{views:,} views by {viewers:,} viewers, {purchasers:,} bought ({_pct(conv)}); "
                f"at the median conversion of {_pct(median_conv)} it would have sold ≈ "
                f"{expected:.1f}, ≈ {_money(missed * price)} more at {_money(price)}",
                conv,
                t.low_conversion_factor * median_conv,
                missed * price,
                poisson_at_most(purchasers, expected),
            )

        rate = row["refund_rate"]
        if (
            bench.refund_rate_threshold is not None
            and rate is not None
            and purchases >= t.min_purchases
            and int(row["refunds"] or 0) > 0
            and rate >= bench.refund_rate_threshold
        ):
            excess = float(row["refunded_amount"] or 0.0) - (
                (bench.marketplace_refund_rate or 0.0) * float(row["gross_revenue"] or 0.0)
            )
            add(
                "high_refund_rate",
                row,
                f"{int(row['refunds']):,} of {purchases:,} purchases refunded ({_pct(rate)}), "
                f"{_money(float(row['refunded_amount'] or 0.0))} of "
                f"{_money(float(row['gross_revenue'] or 0.0))}; at the marketplace rate of "
                f"{_pct(bench.marketplace_refund_rate or 0.0)} it would have lost "
                f"≈ {_money(max(excess, 0.0))} less",
                rate,
                bench.refund_rate_threshold,
                max(excess, 0.0),
                binomial_at_least(
                    int(row["refunds"]), purchases, bench.marketplace_refund_rate or 0.0
                ),
            )

        if (
            row["program_id"] in top
            and bench.median_ratings is not None
            and int(row["ratings"] or 0) < t.few_ratings_factor * bench.median_ratings
        ):
            add(
                "few_ratings",
                row,
                f"net revenue {_money(float(row['net_revenue']))} (a top seller) with "
                f"{int(row['ratings'] or 0):,} workout ratings",
                float(row["ratings"] or 0),
                t.few_ratings_factor * bench.median_ratings,
            )

        if (
            median_conv
            and conv is not None
            and bench.low_traffic_views is not None
            and bench.high_traffic_views is not None
            and purchasers >= t.min_buyers_to_promote
            and views <= bench.low_traffic_views
            and conv >= t.high_conversion_factor * median_conv
        ):
            extra_views = max(bench.high_traffic_views - views, 0.0)
            per_view = purchases / views if views else 0.0
            gain = extra_views * per_view * price
            add(
                "under_exposed",
                row,
                f"{purchasers:,} of {viewers:,} viewers bought ({_pct(conv)}, the median is "
                f"{_pct(median_conv)}) on {views:,} views; with "
                f"{_num(bench.high_traffic_views)} views it would sell ≈ "
                f"{_money(gain)} more at its own rate",
                conv,
                t.high_conversion_factor * median_conv,
                gain,
                poisson_at_least(purchasers, viewers * median_conv),
            )

        avg = row["avg_rating"]
        if (
            bench.median_rating is not None
            and avg is not None
            and int(row["ratings"] or 0) >= t.min_ratings
            and avg <= bench.median_rating - t.low_rating_gap
        ):
            add(
                "low_rating",
                row,
                f"average {avg:.2f} stars over {int(row['ratings']):,} workout ratings "
                f"(median {bench.median_rating:.2f}); {purchases:,} purchases, "
                f"net revenue {_money(float(row['net_revenue'] or 0.0))}",
                float(avg),
                bench.median_rating - t.low_rating_gap,
            )

    order = {rule: i for i, rule in enumerate(RULES)}
    out.sort(key=lambda s: (s.impact is None, -(s.impact or 0.0), order[s.rule], s.program_id))
    return bench, out


def category_benchmarks(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per program category: programs, median list price, traffic, conversion
    (purchasers / viewers), revenue, refund rate (refunds / purchases) and the average rating
    (weighted by ratings) — the yardstick a program is compared with in its own category."""
    _check(frame, ("category", *REQUIRED))
    rated = pl.col("avg_rating").fill_null(0.0) * pl.col("ratings")
    return (
        frame.group_by("category")
        .agg(
            pl.len().alias("programs"),
            pl.col("list_price").median().alias("median_list_price"),
            pl.col("views").sum(),
            pl.col("viewers").sum(),
            pl.col("purchasers").sum(),
            pl.col("purchases").sum(),
            pl.col("gross_revenue").sum(),
            pl.col("net_revenue").sum(),
            pl.col("refunds").sum(),
            rated.sum().alias("_stars"),
            pl.col("ratings").sum(),
        )
        .with_columns(
            pl.when(pl.col("viewers") > 0)
            .then(pl.col("purchasers") / pl.col("viewers"))
            .alias("conversion_rate"),
            pl.when(pl.col("purchases") > 0)
            .then(pl.col("refunds") / pl.col("purchases"))
            .alias("refund_rate"),
            pl.when(pl.col("ratings") > 0)
            .then(pl.col("_stars") / pl.col("ratings"))
            .alias("avg_rating"),
            (pl.col("net_revenue") / pl.col("programs")).alias("net_revenue_per_program"),
        )
        .drop("_stars")
        .sort(["net_revenue", "category"], descending=[True, False])
    )
