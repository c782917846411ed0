"""Bring a database up to date with the Alembic migrations shipped in the package."""

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def include_object(
    obj: object, name: str | None, kind: str, reflected: bool, other: object
) -> bool:
    """Leave what migrations manage by hand out of comparisons between the models and the
    database (autogenerate, and the migration test): the full-text machinery of 0001 and the
    indexes of 0004, which differ between the engines."""
    if kind == "table" and (name or "").startswith("review_fts"):
        return False
    return name not in HAND_MADE


HAND_MADE = (
    "search_vector",
    "ix_claim_review_search_vector",
    "ix_claim_review_language_published",
    "ix_claim_review_language_verdict_published",
    "ix_claim_review_search_filters",
)
