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

__all__ = ["FieldValue", "Point", "encode", "encode_points"]

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
    # bool before int: bool is an int subclass.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"field value must be finite, got {value!r}")
        return repr(value)
    if isinstance(value, str):
        return f'"{value.translate(_STRING)}"'
    raise TypeError(f"unsupported field type {type(value).__name__}")


@dataclass(frozen=True)
class Point:
    measurement: str
    fields: Mapping[str, FieldValue]
    time_ms: int
    tags: Mapping[str, str] = field(default_factory=dict)


def encode(point: Point) -> str:
    """One line of line protocol (no trailing newline), timestamp in ms."""
    if not point.fields:
        raise ValueError("a point needs at least one field")
    parts = [_checked(point.measurement, "measurement").translate(_MEASUREMENT)]
    for key in sorted(point.tags):  # sorted tags: InfluxDB's fastest path
        value = point.tags[key]
        if value == "":
            continue  # an empty tag value means "no tag" in line protocol
        parts.append(
            f"{_checked(key, 'tag key').translate(_KEY)}="
            f"{_checked(value, 'tag value').translate(_KEY)}"
        )
    fields = ",".join(
        f"{_checked(k, 'field key').translate(_KEY)}={_field_value(v)}"
        for k, v in point.fields.items()
    )
    return f"{','.join(parts)} {fields} {int(point.time_ms)}"


def encode_points(points: Iterable[Point]) -> bytes:
    return ("\n".join(encode(p) for p in points) + "\n").encode("utf-8")
