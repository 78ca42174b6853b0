"""RFC 3339 timestamps as registries and image configs write them.

A leaf module: image configs' ``created`` and token answers' ``issued_at`` are read
through it, and reading a token must not load the image models.
"""

from __future__ import annotations

import datetime as _dt
import re

__all__ = ["parse_rfc3339"]

_RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z", re.ASCII
)


def parse_rfc3339(value: str | None) -> _dt.datetime | None:
    """An aware datetime from an RFC 3339 timestamp, or None when absent or unparsable.

    Accepts ``Z`` or ``+hh:mm`` offsets and any number of fractional digits
    (Go writes nanoseconds; they are cut to microseconds).
    """
    if not isinstance(value, str):
        return None
    m = _RFC3339_RE.match(value.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    if m.group(8):
        tz = _dt.timezone.utc
    else:
        sign = -1 if m.group(9) == "-" else 1
        offset = _dt.timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        if offset >= _dt.timedelta(days=1):  # (timezone() would raise a ValueError)
            return None
        tz = _dt.timezone(sign * offset)
    try:
        return _dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return None
