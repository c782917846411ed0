"""Security headers on every response, and the one list of Content-Security-Policies.

Every response gets ``X-Content-Type-Options: nosniff`` (a JSON-LD document or a problem must
never be sniffed into HTML) and ``Referrer-Policy``. A response without a policy of its own gets
``API_POLICY``, which lets nothing load and nothing frame it: right for JSON, feeds and the
pasted HTML fragments (``/embed``, ``/v1/markup``), which are never meant to be opened. The
public fact-check page sets ``PAGE_POLICY``; the interactive API docs get ``DOCS_POLICY``, as
FastAPI's Swagger UI and ReDoc pages load their scripts and styles from a CDN.

Pure ASGI (it only adds headers to ``http.response.start``), as it runs on every request.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, docs_paths: frozenset[str]) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS if scope["path"] in self.docs_paths else API

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                own = {name for name, _ in headers}  # ASGI response header names are lowercase
                headers += [header for header in ALWAYS if header[0] not in own]
                if CSP not in own:
                    headers.append((CSP, policy))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
