"""Security headers on every response, and the one list of Content-Security-Policies.

Every response gets ``X-Content-Type-Options: nosniff`` (a JSON-LD document or a problem must
never be sniffed into HTML) and ``Referrer-Policy``. A response without a policy of its own gets
``API_POLICY``, which lets nothing load and nothing frame it: right for JSON, feeds and the
pasted HTML fragments (``/embed``, ``/v1/markup``), which are never meant to be opened. The
public fact-check page sets ``PAGE_POLICY``; the interactive API docs get ``DOCS_POLICY``, as
FastAPI's Swagger UI and ReDoc pages load their scripts and styles from a CDN.

``app/http/middleware.py`` adds them to ``http.response.start``; this module says which.
"""

from collections.abc import Iterable

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# The card needs only its inline CSS and images (publisher logo, rating image) from anywhere.
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:;"
    " base-uri 'none'; form-action 'none'"
)
# Swagger UI and ReDoc as FastAPI serves them: a CDN bundle started by an inline script,
# ReDoc's Google fonts and web worker, and the service's own /openapi.json.
DOCS_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net;"
    " style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com;"
    " font-src https://fonts.gstatic.com; img-src 'self' data: https:; connect-src 'self';"
    " worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
CSP = b"content-security-policy"
API, DOCS = API_POLICY.encode(), DOCS_POLICY.encode()
NOSNIFF = (b"x-content-type-options", b"nosniff")
REFERRER = (b"referrer-policy", b"strict-origin-when-cross-origin")
_NAMES = frozenset((NOSNIFF[0], REFERRER[0], CSP))
# What nearly every response gets: no security header of its own. One list per policy.
_ADDED = {policy: [NOSNIFF, REFERRER, (CSP, policy)] for policy in (API, DOCS)}


def add(
    response: Iterable[tuple[bytes, bytes]], request_id: tuple[bytes, bytes], policy: bytes
) -> list[tuple[bytes, bytes]]:
    """A response's headers, then ``request_id``, then the security headers it did not set
    (ASGI response header names are lowercase)."""
    headers = [*response, request_id]
    for name, _ in headers:
        if name in _NAMES:
            own = {name for name, _ in headers}
            headers += [header for header in _ADDED[policy] if header[0] not in own]
            return headers
    headers += _ADDED[policy]
    return headers
