"""Safe InfluxQL building: identifiers are quoted, values go in bind parameters.

Values are never put into query text: pass them as ``params`` (``$name`` in the
query) which InfluxDB 1.x, 2.x (v1 API) and 3.x bind on the server.
"""

from __future__ import annotations

import re

__all__ = ["duration", "quote_ident"]

_DURATION = re.compile(r"^[1-9][0-9]{0,8}(ms|s|m|h|d|w)$")


def quote_ident(name: str) -> str:
    """A double-quoted identifier; backslash and quote escaped, line breaks refused."""
    if not name or "\n" in name or "\r" in name:
        raise ValueError(f"invalid identifier {name!r}")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def duration(text: str) -> str:
    """Validate a GROUP BY time() interval such as 5m or 1h (no bind parameter exists)."""
    if not _DURATION.match(text):
        raise ValueError(f"invalid duration {text!r}: use e.g. 30s, 5m, 1h, 1d")
    return text
