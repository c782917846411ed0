# Production image: the service on uvicorn workers; PostgreSQL via CLAIMREVIEW_DATABASE_URL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/claimreview
COPY pyproject.toml README.md ./
COPY app ./app
COPY schemas ./schemas
COPY migrations ./migrations
# app/schemas and app/migrations are symlinks into the two folders above; the wheel copies them.
RUN pip install . && rm -rf /srv/claimreview/*

RUN useradd --system --uid 10001 --home-dir /srv/claimreview claimreview \
    && chown claimreview /srv/claimreview
USER claimreview

ENV CLAIMREVIEW_WORKERS=4 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/claimreview-metrics
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"

# `claimreview serve` migrates first (once, before any worker starts), then runs uvicorn with the
# CLAIMREVIEW_* limits and timeouts (keep-alive, header deadline and size, trusted proxies); it
# also empties the workers' shared metrics directory (PROMETHEUS_MULTIPROC_DIR).
CMD ["sh", "-c", "exec claimreview serve --host 0.0.0.0 --port 8000 --workers ${CLAIMREVIEW_WORKERS}"]
