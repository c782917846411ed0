"""The ranges a number from a request must lie in to reach storage and output intact.

Past them a value used to fail deep down, as a 500: SQLite's 8-byte ``INTEGER``, PostgreSQL's
4-byte ``integer``, orjson's 64-bit integers. Declared on the parameter or the field instead,
such a value is refused with a 4xx that names it, and the OpenAPI document shows the range
(the CI fuzz test sends its boundary values on both engines). Dates have Python's own range,
years 1 to 9999, which ``document.normalise_date`` enforces.
"""

INT4_MAX = 2**31 - 1
"""PostgreSQL's ``integer``, the column type of a review's version (and of its revisions)."""

SAFE_INTEGER = 2**53 - 1
"""I-JSON's bound (RFC 7493 §2.2): the largest integer every JSON reader holds exactly.
Rating numbers stay within ±this, so the JSON-LD keeps them as sent, in 64 bits."""
