"""Service configuration: the only module that reads environment variables.

Every setting is an environment variable with the ``CLAIMREVIEW_`` prefix; docs/configuration.md
lists them with their defaults (tests/system/test_docs.py holds it to this class).
"""

import hashlib
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # validate_by_name: a setting with an alias (below) is still given by its name in code.
    model_config = SettingsConfigDict(
        env_prefix="CLAIMREVIEW_", extra="ignore", validate_by_name=True
    )

    database_url: str = "sqlite:///./claimreview.db"
    base_url: str = "http://127.0.0.1:8000"
    admin_token: str | None = None
    public_reads: bool = True
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_import_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    access_log: bool = True
    log_level: str = "info"
    log_format: Literal["json", "text"] = "json"
    metrics_token: str | None = None
    db_pool_size: int = Field(default=10, ge=1)
    read_pool_size: int = Field(default=4, ge=1)
    # Rows of recent list pages each process keeps while the database is unchanged
    # (app/db/read_cache.py); 0 turns the cache off.
    read_cache_mb: int = Field(default=32, ge=0)
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    cache_max_age: int = Field(default=60, ge=0)
    secret_key: str | None = None
    # Outbound requests (webhooks, image fetches; app/services/outbound.py) may go to loopback,
    # private and link-local addresses. CLAIMREVIEW_WEBHOOK_ALLOW_PRIVATE is its older name.
    outbound_allow_private: bool = Field(
        default=False,
        validation_alias=AliasChoices(
            "CLAIMREVIEW_OUTBOUND_ALLOW_PRIVATE", "CLAIMREVIEW_WEBHOOK_ALLOW_PRIVATE"
        ),
    )
    webhook_max_attempts: int = Field(default=8, ge=1, le=30)
    webhook_backoff_seconds: float = Field(default=2.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_max_response_bytes: int = Field(default=64 * 1024, ge=0)
    # The image worker (app/services/images/), which the dispatcher settings also govern.
    image_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    image_timeout_seconds: float = Field(default=20.0, gt=0)
    image_max_attempts: int = Field(default=8, ge=1, le=30)
    image_backoff_seconds: float = Field(default=10.0, gt=0)
    dispatcher_interval_seconds: float = Field(default=1.0, gt=0)
    dispatcher_enabled: bool = True
    # How often each process folds new reviews into the facet totals (app/db/facet_counts.py).
    facet_fold_interval_seconds: float = Field(default=5.0, gt=0)
    # Search by image: the most bits a stored image's pHash and dHash may each differ from the
    # query image's (app/db/image_search.py); the default and the bound are bench/README.md's
    # measurements (at 16 the band probes' radius grows to 4: 40-150 ms a lookup).
    image_search_threshold: int = Field(default=3, ge=0, le=15)
    # Limits (app/http/rate_limits.py, app/http/request_limits.py, app/http/protocol.py) and
    # uvicorn's keep-alive timeout.
    rate_limit_enabled: bool = True
    rate_limit_ip_per_second: float = Field(default=100.0, gt=0)
    rate_limit_ip_burst: int = Field(default=1000, ge=1)
    rate_limit_key_per_second: float = Field(default=100.0, gt=0)
    rate_limit_key_burst: int = Field(default=1000, ge=1)
    redis_url: str | None = None
    redis_prefix: str = "claimreview:ratelimit:"
    trusted_proxies: str = "127.0.0.1,::1"
    max_query_bytes: int = Field(default=8192, ge=256)
    max_query_params: int = Field(default=100, ge=1)
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    max_header_bytes: int = Field(default=32768, ge=1024)
    keepalive_timeout_seconds: int = Field(default=5, ge=1)
    max_concurrency: int = Field(default=1000, ge=1)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def dialect(self) -> Literal["sqlite", "postgresql"]:
        return "sqlite" if self.is_sqlite else "postgresql"

    @property
    def signing_key(self) -> bytes:
        """Signs cursors. Every worker and host must share it; by default it is derived from
        the database URL, which they do share."""
        seed = self.secret_key or f"claimreview:{self.database_url}"
        return hashlib.sha256(seed.encode()).digest()

    @property
    def public_base_url(self) -> str:
        return self.base_url.rstrip("/")


def get_settings() -> Settings:
    return Settings()
