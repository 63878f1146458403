"""The chart library: every kind builds a valid Vega-Lite (or Plotly) spec from small frames, with
the palette, the unit's number format, a text alternative computed from the data, the comparison
period, annotations and click selections where asked."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from analytics import charts

DAYS = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(10)]
SERIES = pl.DataFrame({"day": DAYS, "value": [float(v) for v in (3, 5, 9, 4, 2, 8, 7, 1, 6, 5)]})


def _layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def test_line_chart_has_comparison_annotations_selection_and_a_text_alternative():
    note = charts.Annotation(DAYS[3], "pricing change")
    spec = charts.line_chart(
        SERIES,
        x="day",
        y="value",
        title="Daily active users",
        unit="count",
        comparison=SERIES.with_columns(pl.col("value") * 0.5),
        annotations=[note],
        select="day_pick",
    ).to_dict()
    marks = [
        layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        for layer in _layers(spec)
    ]
    assert marks.count("line") == 2 and "rule" in marks and "text" in marks
    dashed = [layer for layer in _layers(spec) if layer["mark"].get("strokeDash")]
    assert dashed and dashed[0]["mark"]["color"] == charts.COMPARISON
    assert [p["name"] for p in spec["params"]] == ["day_pick"]  # Altair lifts it to the top
    assert spec["config"]["range"]["category"] == list(charts.PALETTE)
    description = spec["description"]
    assert "Highest 9 at 2026-01-03" in description and "lowest 1 at 2026-01-08" in description
    assert "pricing change" in description and "dashed grey line" in description


def test_line_chart_time_format_labels_hours_and_names_points_by_time():
    hours = pl.DataFrame(
        {
            "hour": [dt.datetime(2026, 1, 1, h, tzinfo=dt.UTC) for h in range(4)],
            "value": [1.0, 4.0, 2.0, 3.0],
        }
    )
    spec = charts.line_chart(hours, x="hour", y="value", unit="ms", time_format="%H:%M").to_dict()
    axes = [layer["encoding"]["x"]["axis"]["format"] for layer in _layers(spec)]
    assert set(axes) == {"%H:%M"}
    tips = [t for layer in _layers(spec) for t in layer["encoding"].get("tooltip", [])]
    assert {"title": "Time", "format": "%b %d %H:%M"}.items() <= tips[0].items()
    daily = charts.line_chart(SERIES, x="day", y="value").to_dict()
    assert {layer["encoding"]["x"]["axis"]["format"] for layer in _layers(daily)} == {"%b %d"}


def test_line_chart_can_fit_its_y_axis_to_the_data_and_mark_every_point():
    plain = charts.line_chart(SERIES, x="day", y="value").to_dict()
    fitted = charts.line_chart(SERIES, x="day", y="value", zero=False, points=True).to_dict()
    assert all(layer["encoding"]["y"]["scale"] == {"zero": True} for layer in _layers(plain))
    assert all(layer["encoding"]["y"]["scale"] == {"zero": False} for layer in _layers(fitted))
    dot = [layer["mark"] for layer in _layers(fitted) if layer["mark"]["type"] == "point"]
    hidden = [layer["mark"] for layer in _layers(plain) if layer["mark"]["type"] == "point"]
    assert dot[0]["opacity"] > 0.5 and hidden[0]["opacity"] == 0


def test_a_legend_of_more_than_three_categories_wraps_into_columns():
    frame = pl.DataFrame(
        {
            "day": DAYS[:5] * 2,
            "endpoint": ["/v1/feed"] * 5 + ["/v1/workouts"] * 5,
            "value": [float(v) for v in range(10)],
        }
    )
    few = charts.line_chart(frame, x="day", y="value", color="endpoint").to_dict()
    assert all("legend" not in layer["encoding"]["color"] for layer in _layers(few))
    short = frame.with_columns(pl.col("endpoint") + pl.col("value").cast(pl.String))
    long = frame.with_columns(endpoint="/v1/recommendations/" + pl.col("value").cast(pl.String))
    for data, columns in ((short, 2), (long, 1)):
        for spec in (
            charts.line_chart(data, x="day", y="value", color="endpoint").to_dict(),
            charts.bar_chart(data, x="day", y="value", color="endpoint", temporal=True).to_dict(),
        ):
            colors = [
                layer["encoding"]["color"]
                for layer in _layers(spec)
                if "color" in layer["encoding"]
            ]
            assert colors and all(c["legend"] == {"columns": columns} for c in colors)
            rows = -(-data["endpoint"].n_unique() // columns)
            assert spec["height"] == charts.DEFAULT_HEIGHT + 20 * (
                rows - 1
            )  # the plot keeps its room


def test_count_axes_tick_at_whole_numbers():
    spec = charts.bar_chart(SERIES, x="day", y="value", unit="count", temporal=True).to_dict()
    assert spec["encoding"]["y"]["axis"] == {"format": ",.0f", "tickMinStep": 1}
    money = charts.bar_chart(SERIES, x="day", y="value", unit="currency").to_dict()
    assert "tickMinStep" not in money["encoding"]["y"]["axis"]


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1234.5, "currency", "$1,234"),
        (12.5, "currency", "$12"),
        (7.25, "currency", "$7.25"),
        (-42.0, "currency", "-$42"),
        (0.4123, "percent", "41.2%"),
        (1_250_000, "currency", "$1.2M"),
        (1204, "count", "1,204"),
        (3.4, "seconds", "3 s"),
        (3.42, "days", "3.4 d"),
        (0.65, "hours", "0.7 h"),
        (None, "count", "–"),
        (float("nan"), "count", "–"),
    ],
)
def test_format_value(value, unit, text):
    assert charts.format_value(value, unit, compact=value == 1_250_000) == text


def test_compact_durations_read_in_minutes_or_hours():
    assert charts.format_value(2004, "seconds", compact=True) == "33.4 min"
    assert charts.format_value(7200, "seconds", compact=True) == "2.0 h"
    assert charts.format_value(42, "seconds", compact=True) == "42 s"


def test_bar_chart_stacks_by_colour_and_formats_the_axis():
    frame = pl.DataFrame(
        {"stream": ["subs", "programs"] * 2, "day": DAYS[:2] * 2, "revenue": [5.0, 3.0, 4.0, 2.0]}
    )
    spec = charts.bar_chart(
        frame, x="day", y="revenue", color="stream", temporal=True, unit="currency", select="bar"
    ).to_dict()
    assert spec["encoding"]["y"]["stack"] == "zero"
    assert spec["encoding"]["y"]["axis"]["format"] == "$,.0f"
    assert spec["params"][0]["select"]["fields"] == ["day", "stream"]
    assert "tickMinStep" not in spec["encoding"]["y"]["axis"]
    counts = charts.bar_chart(frame, x="stream", y="revenue", unit="count", horizontal=True)
    assert counts.to_dict()["encoding"]["x"]["axis"]["tickMinStep"] == 1  # no 0, 0, 1, 1 ticks
    months = pl.DataFrame({"month": ["Jan 2026", "Feb 2026"], "arpu": [7.7, 9.2]})
    upright = charts.bar_chart(months, x="month", y="arpu", sort="none").to_dict()
    assert "axis" not in upright["encoding"]["x"]  # Vega-Lite's default
    flat = charts.bar_chart(months, x="month", y="arpu", sort="none", label_angle=0).to_dict()
    assert flat["encoding"]["x"]["axis"]["labelAngle"] == 0


def test_funnel_labels_carry_conversion_from_first_and_previous_step():
    steps = pl.DataFrame(
        {"step": ["Signed up", "First workout", "First purchase"], "users": [200, 120, 30]}
    )
    spec = charts.funnel_chart(steps, title="Signup funnel").to_dict()
    labels = [row["label"] for row in spec["datasets"][next(iter(spec["datasets"]))]]
    assert labels == ["200  (100%)", "120  (60%, 60% of previous)", "30  (15%, 25% of previous)"]


def test_waterfall_runs_from_start_through_movements_to_end():
    moves = pl.DataFrame(
        {"movement": ["Start", "New", "Churned", "End"], "amount": [100.0, 30.0, -20.0, 110.0]}
    )
    spec = charts.waterfall_chart(moves).to_dict()
    rows = spec["datasets"][next(iter(spec["datasets"]))]
    assert [(r["start"], r["end"], r["kind"]) for r in rows] == [
        (0.0, 100.0, "total"),
        (100.0, 130.0, "increase"),
        (130.0, 110.0, "decrease"),
        (0.0, 110.0, "total"),
    ]
    assert spec["encoding"]["x"]["field"] == "movement" and spec["encoding"]["y2"]["field"] == "end"
    across = charts.waterfall_chart(moves, horizontal=True).to_dict()["encoding"]
    assert across["y"]["field"] == "movement" and across["x2"]["field"] == "end"


def test_heatmap_prints_values_in_cells_and_uses_a_sequential_scheme():
    cells = pl.DataFrame(
        {"cohort": ["w1", "w1", "w2"], "period": [0, 1, 0], "rate": [1.0, 0.4, 1.0]}
    )
    spec = charts.heatmap(cells, x="period", y="cohort", value="rate").to_dict()
    rect, text = spec["layer"]
    assert rect["encoding"]["color"]["scale"]["scheme"] == charts.SEQUENTIAL
    assert text["mark"]["type"] == "text" and text["encoding"]["text"]["format"] == ".0%"
    assert "2 rows by 2 columns" in spec["description"]


def test_curve_chart_overlays_series_on_a_numeric_axis_and_highlights_one():
    curves = pl.DataFrame(
        {
            "cohort": ["Jan 05"] * 3 + ["Jan 12"] * 3,
            "period": [0, 1, 2] * 2,
            "rate": [1.0, 0.5, 0.4, 1.0, 0.6, 0.3],
        }
    )
    spec = charts.curve_chart(
        curves, x="period", y="rate", color="cohort", x_title="Week", highlight="Jan 12"
    ).to_dict()
    line, points = spec["layer"]
    assert line["encoding"]["x"]["type"] == "quantitative"  # periods, not dates
    assert line["encoding"]["color"]["field"] == "cohort"
    assert line["encoding"]["strokeWidth"]["condition"]["value"] == 3
    assert points["encoding"]["y"]["axis"]["format"] == ".1%"
    assert spec["description"] == (
        "Curve chart of rate: 2 series over Week 0 to 2, values from 30.0% to 100.0%. "
        "Series: Jan 05, Jan 12."
    )
    empty = charts.curve_chart(curves.clear(), x="period", y="rate", title="Retention")
    assert empty.to_dict()["description"] == "Curve chart of Retention: no data."


def test_donut_scatter_and_sparkline_build():
    shares = pl.DataFrame({"platform": ["ios", "android", "web"], "users": [50, 30, 20]})
    assert (
        "ios 50%; android 30%; web 20%"
        in charts.donut_chart(shares, category="platform", value="users").to_dict()["description"]
    )
    scatter = charts.scatter_chart(
        shares, x="users", y="users", label="platform", select="pick"
    ).to_dict()
    assert scatter["params"][0]["select"]["fields"] == ["platform"]
    assert scatter["encoding"]["x"]["scale"]["zero"] is True
    sized = charts.scatter_chart(shares, x="users", y="users", size="users", x_zero=False)
    encoding = sized.to_dict()["encoding"]
    assert encoding["size"]["scale"]["range"][0] > 0  # a zero is still a visible point
    assert encoding["x"]["scale"]["zero"] is False
    spark = charts.sparkline(SERIES, x="day", y="value").to_dict()
    assert spark["encoding"]["x"]["axis"] is None


def test_flow_chart_draws_targets_as_their_own_column_so_cycles_render():
    links = pl.DataFrame(
        {
            "from_screen": ["Home", "Workouts", "Home"],
            "to_screen": ["Workouts", "Home", "Home"],
            "transitions": [10, 7, 3],
        }
    )
    figure = charts.flow_chart(links, title="Screen flow")
    sankey = figure.data[0]
    assert list(sankey.node.label) == ["Home", "Workouts", "→ Home", "→ Workouts"]
    assert list(sankey.link.source) == [0, 1, 0] and list(sankey.link.target) == [3, 2, 2]
    assert charts.description_of(figure).startswith(
        "Flow chart of Screen flow: 3 links; largest Home → Workouts 10"
    )


def test_empty_data_still_gives_a_chart_that_says_so():
    empty = SERIES.clear()
    assert (
        charts.line_chart(empty, x="day", y="value", title="DAU").to_dict()["description"]
        == "Line chart of DAU: no data."
    )


@pytest.mark.parametrize(
    ("unit", "fmt", "expected"),
    [
        ("USD", "${:,.0f}", "currency"),
        ("USD per user", "${:,.2f}", "currency"),
        ("ratio", "{:.1%}", "percent"),
        ("users", "{:,.0f}", "count"),
        ("seconds", "{:,.0f} s", "seconds"),
        ("sessions per user", "{:,.2f}", "number"),
        ("days", "{:,.1f} d", "days"),
        ("hours", "{:,.1f} h", "hours"),
    ],
)
def test_catalogue_units_map_onto_chart_units(unit, fmt, expected):
    assert charts.unit_of(unit, fmt) == expected


def test_temporal_bars_can_be_labelled_by_time_of_day():
    seconds = pl.DataFrame(
        {
            "second": [dt.datetime(2026, 3, 1, 12, 0, s) for s in range(3)],
            "events": [1, 5, 2],
        }
    )
    spec = charts.bar_chart(
        seconds, x="second", y="events", temporal=True, unit="count", time_format="%H:%M:%S"
    ).to_dict()
    assert spec["encoding"]["x"]["axis"]["format"] == "%H:%M:%S"
    assert spec["encoding"]["tooltip"][0]["format"] == "%H:%M:%S"
    assert "Highest 5 at 2026-03-01 12:00:01" in spec["description"]
    assert spec["encoding"]["y"]["axis"]["tickMinStep"] == 1  # counts: no "0, 1, 1, 2" ticks


def _note_rows(spec: dict) -> list[dict]:
    """The rows of a spec's annotation layers (Altair moves layer data to ``datasets``)."""
    return [r for rows in spec.get("datasets", {}).values() for r in rows if "note" in r]


def _marks(spec: dict) -> list[str]:
    return [
        layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        for layer in _layers(spec)
    ]


def test_time_charts_show_only_the_annotations_of_their_span():
    inside, outside = (
        charts.Annotation(DAYS[2], "outage"),
        charts.Annotation(DAYS[-1] + dt.timedelta(5), "later"),
    )
    spec = charts.line_chart(SERIES, x="day", y="value", annotations=[inside, outside]).to_dict()
    notes = _note_rows(spec)
    assert {r["note"] for r in notes} == {"outage"}
    assert _marks(spec).count("rule") == 1 and "point" in _marks(spec)
    assert "Annotations: 2026-01-03: outage." in spec["description"]
    assert "later" not in spec["description"]
    plain = charts.line_chart(SERIES, x="day", y="value").to_dict()
    assert "rule" not in _marks(plain) and "Annotations" not in plain["description"]


def test_weekly_bars_put_a_note_on_the_week_that_holds_its_day():
    weeks = pl.DataFrame(
        {
            "period": [dt.date(2026, 1, 5), dt.date(2026, 1, 12)],
            "value": [3.0, 4.0],
            "stream": ["a", "a"],
        }
    )
    note = charts.Annotation(dt.date(2026, 1, 14), "pricing change")
    spec = charts.bar_chart(
        weeks, x="period", y="value", color="stream", temporal=True, annotations=[note]
    ).to_dict()
    rows = _note_rows(spec)
    assert rows and all(r["period"].startswith("2026-01-12") for r in rows)
    assert rows[0]["note_day"] == "Jan 14, 2026"  # the tooltip names the note's own day
    assert "Annotations: 2026-01-14: pricing change." in spec["description"]
    after = charts.Annotation(dt.date(2026, 1, 19), "outside")  # the week after the last bar
    spec = charts.bar_chart(
        weeks, x="period", y="value", temporal=True, annotations=[after]
    ).to_dict()
    assert "rule" not in _marks(spec)


def test_an_annotated_chart_renders():
    import vl_convert as vlc

    spec = charts.line_chart(
        SERIES, x="day", y="value", annotations=[charts.Annotation(DAYS[4], "outage")]
    ).to_dict()
    spec["width"] = 400
    svg = vlc.vegalite_to_svg(spec)
    assert "outage" in svg


def test_an_intraday_chart_leaves_out_a_note_at_midnight_before_its_data():
    minutes = pl.DataFrame(
        {
            "at": [dt.datetime(2026, 1, 3, 10, m, tzinfo=dt.UTC) for m in range(5)],
            "value": [1.0, 2.0, 3.0, 2.0, 1.0],
        }
    )
    note = charts.Annotation(dt.date(2026, 1, 3), "outage")
    spec = charts.line_chart(
        minutes, x="at", y="value", time_format="%H:%M", annotations=[note]
    ).to_dict()
    assert "rule" not in _marks(spec), "the note would stretch the axis back to midnight"
    hourly = pl.DataFrame(
        {
            "at": [
                dt.datetime(2026, 1, 2, 20, tzinfo=dt.UTC) + dt.timedelta(hours=h) for h in range(8)
            ],
            "value": [float(h) for h in range(8)],
        }
    )
    spec = charts.line_chart(hourly, x="at", y="value", annotations=[note]).to_dict()
    (row,) = _note_rows(spec)
    assert row["at"].startswith("2026-01-03T00:00:00") and "+00:00" in row["at"]
