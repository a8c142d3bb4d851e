"""InfluxDB line protocol, built only from escaped parts.

    measurement[,tag=value...] field=value[,field=value...] timestamp

Escaping (InfluxDB 1.x-3.x): the measurement escapes comma and space; tag keys,
tag values and field keys escape comma, equals sign and space; string field
values are double-quoted with backslash and double quote escaped. Newlines can
not be escaped anywhere outside a string field, so they are refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["FieldValue", "Point", "encode", "encode_points", "line", "series_key"]

FieldValue = float | int | bool | str

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ "})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING = str.maketrans({"\\": "\\\\", '"': '\\"'})


def _checked(text: str, what: str) -> str:
    if not text:
        raise ValueError(f"{what} must not be empty")
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} must not contain a line break: {text!r}")
    if text.endswith("\\"):
        # A trailing backslash would escape the separator that follows it.
        raise ValueError(f"{what} must not end with a backslash: {text!r}")
    return text


def _field_value(value: FieldValue) -> str:
    kind = type(value)
    if kind is float:
        if value != value or value in (math.inf, -math.inf):
            raise ValueError(f"field value must be finite, got {value!r}")
        return repr(value)
    if kind is bool:  # before int: bool is an int subclass
        return "true" if value else "false"
    if kind is int:
        return f"{value}i"
    if kind is str:
        return f'"{value.translate(_STRING)}"'  # type: ignore[union-attr]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{int(value)}i"
    if isinstance(value, float):
        return _field_value(float(value))
    raise TypeError(f"unsupported field type {kind.__name__}")


_KEYS: dict[str, str] = {}


def _field_key(key: str) -> str:
    escaped = _KEYS.get(key)
    if escaped is None:
        escaped = _checked(key, "field key").translate(_KEY)
        if len(_KEYS) < 4096:  # keys are few and fixed; do not grow without bound
            _KEYS[key] = escaped
    return escaped


def series_key(measurement: str, tags: Mapping[str, str]) -> str:
    """The escaped `measurement,tag=value,...` part, to compute once per series."""
    parts = [_checked(measurement, "measurement").translate(_MEASUREMENT)]
    for key in sorted(tags):  # sorted tags: InfluxDB's fastest path
        value = tags[key]
        if value == "":
            continue  # an empty tag value means "no tag" in line protocol
        parts.append(
            f"{_checked(key, 'tag key').translate(_KEY)}="
            f"{_checked(value, 'tag value').translate(_KEY)}"
        )
    return ",".join(parts)


def line(series: str, fields: Mapping[str, FieldValue], time_ms: int) -> str:
    """One line for a series key from `series_key`."""
    if not fields:
        raise ValueError("a point needs at least one field")
    body = ",".join(f"{_field_key(k)}={_field_value(v)}" for k, v in fields.items())
    return f"{series} {body} {int(time_ms)}"


@dataclass(frozen=True)
class Point:
    measurement: str
    fields: Mapping[str, FieldValue]
    time_ms: int
    tags: Mapping[str, str] = field(default_factory=dict)


def encode(point: Point) -> str:
    """One line of line protocol (no trailing newline), timestamp in ms."""
    return line(series_key(point.measurement, point.tags), point.fields, point.time_ms)


def encode_points(points: Iterable[Point]) -> bytes:
    return ("\n".join(encode(p) for p in points) + "\n").encode("utf-8")
