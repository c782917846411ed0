"""The framework's ceiling: a bare FastAPI app with one ``async def`` endpoint that returns the
same JSON-LD bytes from memory, with no database, middleware or headers of its own.

    BENCH_BODY=bench/out/body.jsonld .venv/bin/uvicorn bench.ceiling:app \\
        --workers 1 --no-access-log --loop uvloop --http httptools --port 8001
    wrk -t2 -c32 -d10s http://127.0.0.1:8001/v1/claim-reviews/ceiling.jsonld

``BENCH_BODY`` names a file with the bytes to serve (``bench/run.py`` writes one stored review
there); without it, the example ``examples/seed-factcheck.jsonld`` is served.
"""

import os
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "seed-factcheck.jsonld"
BODY = Path(os.environ.get("BENCH_BODY") or EXAMPLE).read_bytes()

app = FastAPI()


@app.get("/v1/claim-reviews/{review_id}.jsonld")
async def get_review_jsonld(review_id: str) -> Response:
    return Response(BODY, media_type="application/ld+json")
