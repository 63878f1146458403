"""Anomaly detection on the event stream: volume, missing events, null rates, duplicates, late data.

Input is an *observation frame*, one row per received event (bronze/events has these columns):
``message_id``, ``series`` (the track event name, ``screen:<name>`` / ``page:<name>``, or the
message type for identify/group/alias), ``timestamp`` (event time, UTC), ``received_at`` (UTC) and
``properties`` (JSON text).

Detectors, each evaluated every ``step`` on trailing windows (30 and 60 minutes by default), so an
incident is flagged within an hour of its start in data time:

* **volume** per series: the expected count is the median of the same window on the same weekday
  and hour over the previous ``baseline_weeks`` weeks (seasonality-aware, robust to one odd week),
  scaled by the recent level (last 7 days vs. the same 7 days in those weeks) so growth is not an
  anomaly. Counts are over-dispersed Poisson: the dispersion ``phi`` of each series is estimated
  robustly (median of squared Pearson residuals / 0.455, the chi-square(1) median) from the
  training period, and a negative-binomial tail probability decides. A window with an expected
  count of at least ``min_expected`` and zero observed is reported as ``missing``; so is a
  *silence*, a series that has sent nothing since its last event for longer than chance allows
  (judged from that event on, so minutes before an outage do not dilute it). Spikes need the
  stricter ``spike_alpha``: real traffic has surges no weekly baseline knows.
* **null_rate** per (series, property): the share of events whose property is absent or null
  against its trailing 7-day rate (binomial tail), for properties that are normally present; and
  the share that send it as an explicit JSON ``null``, for every property.
* **duplicates**: the share of events whose ``message_id`` was already received (binomial tail
  against the trailing 7-day duplicate rate).
* **late**: the share of events, by receipt time, that arrive more than ``late_after`` after their
  event time (binomial tail against the trailing 7-day rate).

An anomaly needs both a tiny tail probability (``alpha``, chosen so that the many windows tested
each week raise about one false alarm at most) and a material effect size (``min_rate_delta``,
``min_count_delta``), so huge series do not alarm on statistically significant trivia.
:func:`group_alerts` merges consecutive flagged windows of one series into one alert.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import orjson
import polars as pl
from scipy import stats

_JSON_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KINDS = ("volume_drop", "volume_spike", "missing", "null_rate", "duplicates", "late")


@dataclass(frozen=True)
class DetectorConfig:
    step: dt.timedelta = dt.timedelta(minutes=5)
    windows: tuple[dt.timedelta, ...] = (dt.timedelta(minutes=30), dt.timedelta(minutes=60))
    baseline_weeks: int = 3
    min_expected: float = 10.0  # volume: windows expecting fewer events are not judged
    alpha: float = 1e-6  # tail probability below which a window is anomalous
    # Spikes are held to a stricter bar: real traffic has surges no weekly baseline knows (monthly
    # renewals, a trainer's promotion), and the failures that add events (duplicate storms, late
    # syncs) have detectors of their own.
    spike_alpha: float = 1e-8
    min_count_delta: int = 8  # volume: at least this many events above/below expectation
    min_volume_ratio: float = 0.5  # volume: observed off by this share of the expectation
    min_rate_delta: float = 0.10  # rates: at least 10 points above the baseline rate
    min_rate_events: int = 10  # rates: windows with fewer events are not judged
    max_baseline_null_rate: float = 0.5  # properties usually null are not monitored
    late_after: dt.timedelta = dt.timedelta(hours=1)
    grace: dt.timedelta = dt.timedelta(minutes=15)  # volume: how late an event may still count
    rate_baseline: dt.timedelta = dt.timedelta(days=7)

    def __post_init__(self) -> None:
        if self.step <= dt.timedelta(0) or any(w % self.step for w in self.windows):
            raise ValueError("every window must be a positive multiple of step")
        if self.baseline_weeks < 1:
            raise ValueError("baseline_weeks must be at least 1")
        if not (0 < self.alpha < 1 and 0 < self.spike_alpha < 1):
            raise ValueError("alpha and spike_alpha must be in (0, 1)")


ANOMALY_SCHEMA = {
    "kind": pl.String,
    "series": pl.String,
    "property": pl.String,
    "window_start": pl.Datetime("us", "UTC"),
    "window_end": pl.Datetime("us", "UTC"),
    "observed": pl.Float64,
    "expected": pl.Float64,
    "p_value": pl.Float64,
}


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=ANOMALY_SCHEMA)


# ---- bucketing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    origin: dt.datetime  # first bucket start
    step: dt.timedelta
    n: int

    def index(self, col: str) -> pl.Expr:
        step_us = int(self.step / dt.timedelta(microseconds=1))
        origin = pl.lit(self.origin, dtype=pl.Datetime("us", "UTC"))
        return ((pl.col(col) - origin).dt.total_microseconds() // step_us).cast(pl.Int64)

    def start(self, i: int) -> dt.datetime:
        return self.origin + i * self.step


def _grid(frame: pl.DataFrame, end: dt.datetime, step: dt.timedelta) -> _Grid:
    first = frame["timestamp"].min()
    origin = dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC)
    n = int((end - origin) / step)
    return _Grid(origin, step, n)


def _dense(
    frame: pl.DataFrame,
    grid: _Grid,
    time_col: str,
    key_cols: list[str],
    value: pl.Expr | None = None,
) -> dict[tuple, np.ndarray]:
    """Per key: a dense array over the grid's buckets of ``value`` summed (rows counted if None)."""
    agg = (
        frame.with_columns(_b=grid.index(time_col))
        .filter((pl.col("_b") >= 0) & (pl.col("_b") < grid.n))
        .group_by([*key_cols, "_b"])
        .agg(_v=pl.len() if value is None else value.sum())
    )
    out: dict[tuple, np.ndarray] = {}
    for part in agg.partition_by(key_cols, as_dict=False):
        key = tuple(part[c][0] for c in key_cols)
        arr = np.zeros(grid.n, dtype=np.float64)
        arr[part["_b"].to_numpy()] = part["_v"].to_numpy()
        out[key] = arr
    return out


def _window_sums(arr: np.ndarray, width: int) -> np.ndarray:
    """``sums[t]`` = arr[t-width:t] (the window ending at bucket boundary t); NaN where short."""
    cs = np.concatenate([[0.0], np.cumsum(arr)])
    sums = np.full(len(arr) + 1, np.nan)
    sums[width:] = cs[width:] - cs[:-width]
    return sums


def _lag(arr: np.ndarray, n: int) -> np.ndarray:
    """``arr`` shifted later by ``n`` buckets (NaN where there is no earlier value)."""
    out = np.full(len(arr), np.nan)
    if n < len(arr):
        out[n:] = arr[: len(arr) - n]
    return out


def _nanmedian(arrays: list[np.ndarray]) -> np.ndarray:
    """Element-wise median of the arrays that have a value there (NaN where none has)."""
    stacked = np.stack(arrays)
    out = np.full(stacked.shape[1], np.nan)
    some = np.isfinite(stacked).any(axis=0)
    out[some] = np.nanmedian(stacked[:, some], axis=0)
    return out


# ---- volume ------------------------------------------------------------------------------------


def _nbinom_tails(obs: np.ndarray, exp: np.ndarray, phi: float) -> tuple[np.ndarray, np.ndarray]:
    """P(X <= obs) and P(X >= obs) for X with mean ``exp`` and variance ``phi * exp``."""
    if phi <= 1.05:
        return stats.poisson.cdf(obs, exp), stats.poisson.sf(obs - 1, exp)
    r = exp / (phi - 1.0)
    p = r / (r + exp)
    return stats.nbinom.cdf(obs, r, p), stats.nbinom.sf(obs - 1, r, p)


def _volume(
    counts: dict[tuple, np.ndarray],
    seen: dict[tuple, np.ndarray],
    grid: _Grid,
    eval_from: int,
    cfg: DetectorConfig,
) -> list[dict]:
    week = int(dt.timedelta(weeks=1) / grid.step)
    k_weeks = cfg.baseline_weeks
    rows: list[dict] = []
    for (series,), arr in counts.items():
        level = _window_sums(arr, week)  # trailing 7 days ending at t
        level_base = _nanmedian([_lag(level, k * week) for k in range(1, k_weeks + 1)])
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.clip(np.where(level_base > 0, level / level_base, np.nan), 0.5, 2.0)
        phis: list[float] = []
        for window in cfg.windows:
            width = int(window / grid.step)
            full = _window_sums(arr, width)
            base = _nanmedian([_lag(full, k * week) for k in range(1, k_weeks + 1)])
            obs = _window_sums(seen.get((series,), np.zeros_like(arr)), width)
            # The level is taken just before this window, so an incident never lowers its own
            # expectation.
            expected = base * _lag(factor, width)
            judged = np.isfinite(expected) & (expected >= cfg.min_expected)
            train = judged.copy()
            train[eval_from:] = False
            if train.sum() < 20:
                continue
            pearson = (obs[train] - expected[train]) ** 2 / expected[train]
            phi = max(1.0, float(np.median(pearson)) / 0.455)
            phis.append(phi)
            idx = np.nonzero(judged[eval_from:])[0] + eval_from
            if len(idx) == 0:
                continue
            low, high = _nbinom_tails(obs[idx], expected[idx], phi)
            for j, t in enumerate(idx):
                o, e = obs[t], expected[t]
                delta = o - e
                material = abs(delta) >= max(cfg.min_count_delta, cfg.min_volume_ratio * e)
                if not material:
                    continue
                if delta < 0 and low[j] < cfg.alpha:
                    kind, p = ("missing" if o == 0 else "volume_drop"), low[j]
                elif delta > 0 and high[j] < cfg.spike_alpha:
                    kind, p = "volume_spike", high[j]
                else:
                    continue
                rows.append(_row(kind, series, None, grid, t, width, o, e, p))
        if phis:
            seen_arr = seen.get((series,), np.zeros_like(arr))
            rows += _silences(series, arr, seen_arr, factor, max(phis), grid, eval_from, cfg)
    return rows


def _silences(
    series: str,
    arr: np.ndarray,
    seen: np.ndarray,
    factor: np.ndarray,
    phi: float,
    grid: _Grid,
    eval_from: int,
    cfg: DetectorConfig,
) -> list[dict]:
    """``missing`` when a series has sent nothing since its last event for longer than chance
    allows: the silence is tested as it stands at each step, not in fixed windows, so an outage
    that begins mid-window is judged on its own span (no events from before it dilute it)."""
    week = int(dt.timedelta(weeks=1) / grid.step)
    # Expected events per bucket: the mean of the same bucket in the baseline weeks (means of
    # small counts add up without bias over the silence), scaled by the level an hour earlier.
    lagged = np.stack([_lag(arr, k * week) for k in range(1, cfg.baseline_weeks + 1)])
    known = np.isfinite(lagged)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_bucket = np.where(known, lagged, 0.0).sum(axis=0) / known.sum(axis=0)
    per_bucket = per_bucket * _lag(factor, int(dt.timedelta(hours=1) / grid.step))[: len(arr)]
    cum = np.concatenate([[0.0], np.cumsum(np.nan_to_num(per_bucket, nan=0.0))])
    unknown = np.concatenate([[0], np.cumsum(~np.isfinite(per_bucket))])  # no baseline there
    # last_nonzero[t]: the last bucket before boundary t with an event seen (-1: none)
    idx = np.where(seen > 0, np.arange(len(seen)), -1)
    last_nonzero = np.concatenate([[-1], np.maximum.accumulate(idx)])
    rows = []
    for t in range(max(eval_from, 1), grid.n + 1):
        start = last_nonzero[t] + 1
        if start >= t or last_nonzero[t] < 0:
            continue
        expected = cum[t] - cum[start]
        if unknown[t] > unknown[start] or expected < cfg.min_expected:
            continue
        p = float(_nbinom_tails(np.array([0.0]), np.array([expected]), phi)[0][0])
        if p < cfg.alpha:
            rows.append(_row("missing", series, None, grid, t, t - start, 0.0, expected, p))
    return rows


def _row(kind, series, prop, grid: _Grid, t: int, width: int, o, e, p) -> dict:
    return {
        "kind": kind,
        "series": series,
        "property": prop,
        "window_start": grid.start(t - width),
        "window_end": grid.start(t),
        "observed": float(o),
        "expected": float(e),
        "p_value": float(p),
    }


# ---- rates (null, duplicate, late) -------------------------------------------------------------


def _rates(
    hits: dict[tuple, np.ndarray],
    totals: dict[tuple, np.ndarray],
    grid: _Grid,
    eval_from: int,
    cfg: DetectorConfig,
    kind: str,
    total_key=lambda key: key,
) -> list[dict]:
    """Binomial test of the share ``hits / totals`` per window vs. its trailing baseline rate."""
    base_width = int(cfg.rate_baseline / grid.step)
    rows: list[dict] = []
    for key, hit_arr in hits.items():
        total_arr = totals.get(total_key(key))
        if total_arr is None:
            continue
        base_hits = _window_sums(hit_arr, base_width)
        base_total = _window_sums(total_arr, base_width)
        for window in cfg.windows:
            width = int(window / grid.step)
            k = _window_sums(hit_arr, width)
            n = _window_sums(total_arr, width)
            # baseline: the 7 days before this window (lagged by the window: no self-influence)
            bh, bt = _lag(base_hits, width), _lag(base_total, width)
            p0 = (bh + 1.0) / (bt + 2.0)
            idx = np.arange(max(eval_from, base_width + width), grid.n + 1)
            idx = idx[(n[idx] >= cfg.min_rate_events) & (p0[idx] <= cfg.max_baseline_null_rate)]
            if len(idx) == 0:
                continue
            rate = k[idx] / n[idx]
            material = rate - p0[idx] >= cfg.min_rate_delta
            idx, rate = idx[material], rate[material]
            if len(idx) == 0:
                continue
            pv = stats.binom.sf(k[idx] - 1, n[idx], p0[idx])
            for t, p, r in zip(idx, pv, rate, strict=True):
                if p < cfg.alpha:
                    series, prop = (key[0], key[1]) if len(key) == 2 else (key[0], None)
                    rows.append(_row(kind, series, prop, grid, t, width, r, p0[t], p))
    return rows


def _null_flags(frame: pl.DataFrame, max_props_per_series: int = 12) -> pl.DataFrame:
    """Long frame (series, timestamp, property, is_null) for each series' usual properties."""
    keys_per_series: dict[str, list[str]] = {}
    sample = frame.group_by("series").head(500)
    for series, props in sample.select("series", "properties").iter_rows():
        seen = keys_per_series.setdefault(series, [])
        if props:
            try:
                parsed = orjson.loads(props)
            except orjson.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                for k in parsed:
                    plain = _JSON_KEY.match(k) is not None  # addressable by a JSONPath
                    if plain and k not in seen and len(seen) < max_props_per_series:
                        seen.append(k)
    parts = []
    for series, keys in keys_per_series.items():
        if not keys:
            continue
        sub = frame.filter(pl.col("series") == series).select("series", "timestamp", "properties")
        for key in keys:
            value = pl.col("properties").str.json_path_match(f"$.{key}")
            # `"key": null` sent explicitly: how a tracking bug usually shows, and measurable even
            # for an optional property whose absence is normal.
            explicit = pl.col("properties").str.contains(f'"{key}"\\s*:\\s*null')
            parts.append(
                sub.select(
                    "series",
                    "timestamp",
                    pl.lit(key).alias("property"),
                    value.is_null().cast(pl.Float64).alias("is_null"),
                    explicit.fill_null(False).cast(pl.Float64).alias("is_explicit_null"),
                )
            )
    if not parts:
        return pl.DataFrame(
            schema={
                "series": pl.String,
                "timestamp": pl.Datetime("us", "UTC"),
                "property": pl.String,
                "is_null": pl.Float64,
                "is_explicit_null": pl.Float64,
            }
        )
    return pl.concat(parts)


# ---- entry points ------------------------------------------------------------------------------


def detect(
    frame: pl.DataFrame,
    evaluate_from: dt.datetime,
    end: dt.datetime,
    config: DetectorConfig | None = None,
) -> pl.DataFrame:
    """Anomalous windows ending in ``(evaluate_from, end]`` (earlier data is training history).

    ``frame``: the observation frame (module docstring). Returns one row per flagged window:
    kind, series, property, window_start, window_end, observed, expected, p_value (for the rate
    detectors ``observed``/``expected`` are shares).
    """
    cfg = config or DetectorConfig()
    if frame.is_empty():
        return _empty()
    frame = frame.with_columns(
        pl.col("timestamp").cast(pl.Datetime("us", "UTC")),
        pl.col("received_at").cast(pl.Datetime("us", "UTC")),
    )
    grid = _grid(frame, end, cfg.step)
    eval_from = int((evaluate_from - grid.origin) / cfg.step) + 1
    if eval_from > grid.n:
        return _empty()
    # Volume counts each message once (duplicates have their own detector). The window being
    # judged counts only events received within ``grace`` of their time, as a detector running
    # at the window's end would have seen them; the baseline weeks count everything.
    unique = frame.unique("message_id", keep="first", maintain_order=True)
    volume = _dense(unique, grid, "timestamp", ["series"])
    on_time = unique.filter(pl.col("received_at") - pl.col("timestamp") <= cfg.grace)
    seen = _dense(on_time, grid, "timestamp", ["series"])
    rows = _volume(volume, seen, grid, eval_from, cfg)

    nulls = _null_flags(frame)
    for flag in ("is_null", "is_explicit_null"):
        null_hits = _dense(nulls, grid, "timestamp", ["series", "property"], pl.col(flag))
        rows += _rates(null_hits, volume, grid, eval_from, cfg, "null_rate", lambda k: (k[0],))

    everything = frame.with_columns(_all=pl.lit("*"))
    received = _dense(everything, grid, "received_at", ["_all"])
    dup_flag = (
        everything.sort("received_at")
        .with_columns(_dup=pl.col("message_id").is_first_distinct().not_().cast(pl.Float64))
        .select("_all", "received_at", "_dup")
    )
    dups = _dense(dup_flag, grid, "received_at", ["_all"], pl.col("_dup"))
    rows += _rates(dups, received, grid, eval_from, cfg, "duplicates")

    late_flag = everything.with_columns(
        _late=((pl.col("received_at") - pl.col("timestamp")) > cfg.late_after).cast(pl.Float64)
    )
    late = _dense(late_flag, grid, "received_at", ["_all"], pl.col("_late"))
    rows += _rates(late, received, grid, eval_from, cfg, "late")

    if not rows:
        return _empty()
    return pl.DataFrame(rows, schema=ANOMALY_SCHEMA).sort("window_end", "kind", "series")


def _family_expr() -> pl.Expr:
    """The alert family of an anomaly kind: a missing event is a volume drop taken to zero."""
    return (
        pl.when(pl.col("kind").is_in(["volume_drop", "missing"]))
        .then(pl.lit("volume_drop"))
        .otherwise(pl.col("kind"))
    )


def group_alerts(
    anomalies: pl.DataFrame, gap: dt.timedelta = dt.timedelta(hours=1)
) -> pl.DataFrame:
    """One alert per run of flagged windows of the same (kind family, series, property).

    Windows whose ends are within ``gap`` of each other belong to one alert; ``first_flagged``
    is when the alert would have fired (the end of its first flagged window).
    """
    if anomalies.is_empty():
        return pl.DataFrame(
            schema={
                "family": pl.String,
                "series": pl.String,
                "property": pl.String,
                "first_flagged": pl.Datetime("us", "UTC"),
                "last_flagged": pl.Datetime("us", "UTC"),
                "windows": pl.UInt32,
                "min_p_value": pl.Float64,
            }
        )
    keys = ["family", "series", "property"]
    return (
        anomalies.with_columns(family=_family_expr())
        .sort([*keys, "window_end"])
        .with_columns(
            _new=(pl.col("window_end").diff().over(keys).fill_null(gap * 2) > gap)
            .cum_sum()
            .over(keys)
        )
        .group_by([*keys, "_new"], maintain_order=True)
        .agg(
            first_flagged=pl.col("window_end").min(),
            last_flagged=pl.col("window_end").max(),
            windows=pl.len(),
            min_p_value=pl.col("p_value").min(),
        )
        .drop("_new")
        .sort("first_flagged")
    )
