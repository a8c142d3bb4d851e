"""The storage adapter: line protocol, safe InfluxQL, and the async HTTP client."""

from gudang.influx.client import InfluxClient, Series
from gudang.influx.influxql import duration, quote_ident
from gudang.influx.lineprotocol import FieldValue, Point, encode, encode_points, line, series_key

__all__ = [
    "FieldValue",
    "InfluxClient",
    "Point",
    "Series",
    "duration",
    "encode",
    "encode_points",
    "line",
    "quote_ident",
    "series_key",
]
