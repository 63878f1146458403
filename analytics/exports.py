"""Downloads of what a page shows: a table as CSV or XLSX (the rows as shown, headed by the
labels the page shows), a chart of :mod:`analytics.charts` as PNG or SVG.

Pure builders from a frame or a chart spec to bytes, with no Streamlit, so the dashboards build
them only when someone clicks (see ``apps/streamlit/components/layout.py``) and the reports can
reuse them. Altair charts are drawn by vl-convert (Vega in an embedded JavaScript engine, no
browser); its first call in a process costs ~1.5 s, later ones ~0.2 s.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pandas as pd
import polars as pl

# Excel's sheet limit is 1,048,576 rows, the header is one of them.
EXCEL_MAX_ROWS = 1_048_575
EXPORT_WIDTH = 900  # px: a chart drawn "as wide as its container" needs a width on its own
PNG_SCALE = 2  # sharp on a high-density screen or in a slide


class ExportError(ValueError):
    """This export cannot be built (the message says what to use instead)."""


def labelled(frame: pl.DataFrame | pd.DataFrame, labels: Mapping[str, str] | None) -> pl.DataFrame:
    """The frame as a polars frame whose columns carry the labels the page shows."""
    data = pl.from_pandas(frame) if isinstance(frame, pd.DataFrame) else frame
    names = {c: labels[c] for c in data.columns if labels and c in labels}
    return data.rename(names) if names else data


def table_csv(frame: pl.DataFrame | pd.DataFrame, labels: Mapping[str, str] | None = None) -> bytes:
    """UTF-8 CSV with a BOM (Excel then reads accents and the currency sign right)."""
    return b"\xef\xbb\xbf" + labelled(frame, labels).write_csv().encode()


def xlsx_fits(rows: int) -> bool:
    return rows <= EXCEL_MAX_ROWS


def table_xlsx(
    frame: pl.DataFrame | pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    *,
    sheet: str = "Data",
) -> bytes:
    """An Excel workbook of one sheet, numbers and dates kept as such. Raises
    :class:`ExportError` past Excel's row limit (use CSV)."""
    data = labelled(frame, labels)
    if not xlsx_fits(data.height):
        raise ExportError(
            f"{data.height:,} rows is more than an Excel sheet holds ({EXCEL_MAX_ROWS:,}): "
            "download CSV instead."
        )
    # Excel has no time zones and no decimals of arbitrary precision: times in UTC, floats.
    data = data.with_columns(
        [
            pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            for name, dtype in data.schema.items()
            if isinstance(dtype, pl.Datetime) and dtype.time_zone
        ]
        + [
            pl.col(name).cast(pl.Float64)
            for name, dtype in data.schema.items()
            if isinstance(dtype, pl.Decimal)
        ]
    )
    buffer = io.BytesIO()
    data.write_excel(buffer, worksheet=sheet[:31], autofit=True)
    return buffer.getvalue()


def _vega_lite(chart: Any, width: int) -> dict[str, Any]:
    spec = chart.to_dict() if hasattr(chart, "to_dict") else dict(chart)
    if spec.get("width") in (None, "container"):
        spec["width"] = width
    return spec


def chart_svg(chart: Any, *, width: int = EXPORT_WIDTH) -> bytes:
    """An Altair chart as SVG (text stays text: searchable, scalable)."""
    import vl_convert as vlc

    return vlc.vegalite_to_svg(_vega_lite(chart, width)).encode()


def chart_png(chart: Any, *, width: int = EXPORT_WIDTH, scale: int = PNG_SCALE) -> bytes:
    """An Altair chart as PNG, at ``scale`` × its pixel size, on a white background."""
    import vl_convert as vlc

    spec = _vega_lite(chart, width)
    spec.setdefault("background", "white")
    return vlc.vegalite_to_png(spec, scale=scale)
