"""ETags, Last-Modified and conditional requests, shared by every GET and every write.

A review's ETag is derived from its version; the JSON-LD representation gets its own tag
(suffix ``-ld``) because it is a different byte sequence. ``If-Match`` accepts either, since a
CMS may have read either form before writing.
"""

from datetime import datetime
from email.utils import format_datetime
from functools import lru_cache

from app.core.document import utc

NATIVE = ""
JSONLD = "-ld"
EMBED = "-embed"


def etag(review_id: str, version: int, representation: str = NATIVE) -> str:
    return f'"{review_id}.{version}{representation}"'


@lru_cache(maxsize=4096)
def http_date(moment: datetime) -> str:
    """Cached: the hot reads send the same stored version's Last-Modified over and over, and
    formatting it costs more than the rest of the headers together."""
    return format_datetime(utc(moment), usegmt=True)


def _tags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def none_match(header: str | None, current: str) -> bool:
    """True when ``If-None-Match`` names the current representation (answer 304)."""
    if not header:
        return False
    tags = _tags(header)
    return "*" in tags or current in tags


def if_match_fails(header: str | None, review_id: str, version: int) -> bool:
    """True when ``If-Match`` is given and names no representation of this version (412)."""
    if header is None:
        return False
    tags = _tags(header)
    if "*" in tags:
        return False
    current = {etag(review_id, version, kind) for kind in (NATIVE, JSONLD, EMBED)}
    return not current.intersection(tags)
