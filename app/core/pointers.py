"""RFC 6901 JSON pointers: the one spelling of "where in the input" shared by findings, import
reports and problem+json errors."""

from collections.abc import Iterable
from typing import Any


def json_pointer(location: Iterable[Any]) -> str:
    """RFC 6901 pointer for a pydantic error location (``~`` and ``/`` escaped)."""
    parts = (str(part).replace("~", "~0").replace("/", "~1") for part in location)
    return "".join("/" + part for part in parts)
