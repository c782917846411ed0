"""Fill a database with published claim reviews for the benchmark, and write their ids to a file.

Every row is produced by the service's own write path: each generated fact-check is parsed by
``ReviewIn`` and stored by ``reviews.create`` (render -> validate -> verdict -> ``_commit_change``),
exactly as ``POST /v1/claim-reviews`` does. Only the last step differs: instead of an ORM session,
``reviews.create`` gets a collector that keeps the rows it adds (the review, its first revision
and its outbox event), and those rows are written with SQLAlchemy Core in batches, which is ~3x
faster than ORM flushes.

    CLAIMREVIEW_DATABASE_URL=sqlite:///./bench/bench.db \\
        .venv/bin/python bench/seed.py --count 100000 --ids bench/ids-sqlite.txt

The database is migrated first (``claimreview db upgrade``). The publishers below are created
when missing and reused otherwise; on a database that already holds reviews, numbering continues
after them and the ids file lists only the new ones. Generation is deterministic for a given
``--seed`` (ids and timestamps aside, which the service assigns).
"""

import argparse
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, inspect, select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.core.document import ReviewIn
from app.db import migrate
from app.db.engine import make_engine
from app.db.tables import ClaimReview, OutboxEvent, Publisher, PublisherCreate, ReviewRevision
from app.services import accounts, reviews

# A few publishers with different languages, domains and rating vocabularies.
PUBLISHERS: list[dict[str, Any]] = [
    {
        "slug": "polygraph",
        "site": "https://www.polygraph.info",
        "name": "Polygraph.info",
        "url": "https://www.polygraph.info/",
        "language": "en",
        "languages": ["en", "en", "en", "ru"],
        "path": "/a/{slug}/{n}.html",
        "scale": [
            ("False", 1),
            ("Misleading", 2),
            ("Unsubstantiated", 3),
            ("Partially True", 4),
            ("True", 5),
        ],
        "numeric": True,
    },
    {
        "slug": "maldita",
        "site": "https://maldita.es",
        "name": "Maldita.es",
        "url": "https://maldita.es/",
        "language": "es",
        "languages": ["es", "es", "es-ES", "ca"],
        "path": "/malditobulo/{d}/{slug}/",
        "scale": [
            ("Bulo", None),
            ("Engañoso", None),
            ("Falta contexto", None),
            ("Verdadero", None),
        ],
        "numeric": False,
    },
    {
        "slug": "lupa",
        "site": "https://lupa.uol.com.br",
        "name": "Agência Lupa",
        "url": "https://lupa.uol.com.br/",
        "language": "pt-BR",
        "languages": ["pt-BR", "pt-BR", "pt"],
        "path": "/jornalismo/{d}/{slug}",
        "scale": [
            ("Falso", 1),
            ("Exagerado", 2),
            ("Ainda é cedo para dizer", 3),
            ("Verdadeiro, mas", 4),
            ("Verdadeiro", 5),
        ],
        "numeric": True,
    },
    {
        "slug": "correctiv",
        "site": "https://correctiv.org",
        "name": "CORRECTIV.Faktencheck",
        "url": "https://correctiv.org/faktencheck/",
        "language": "de",
        "languages": ["de", "de", "de-AT", "en"],
        "path": "/faktencheck/{d}/{slug}/",
        "scale": [
            ("Falsch", 1),
            ("Größtenteils falsch", 2),
            ("Teilweise falsch", 3),
            ("Fehlender Kontext", 3),
            ("Unbelegt", 3),
            ("Richtig", 6),
        ],
        "numeric": True,
    },
    {
        "slug": "afp-factuel",
        "site": "https://factuel.afp.com",
        "name": "AFP Factuel",
        "url": "https://factuel.afp.com/",
        "language": "fr",
        "languages": ["fr", "fr", "fr-CA", "ar"],
        "path": "/doc.afp.com.{code}",
        "scale": [
            ("Faux", None),
            ("Trompeur", None),
            ("Manque de contexte", None),
            ("Satire", None),
            ("Vrai", None),
        ],
        "numeric": False,
    },
]

SUBJECTS = [
    "The government",
    "The central bank",
    "A viral video",
    "The mayor of the capital",
    "The health ministry",
    "An opposition senator",
    "A popular influencer",
    "The prime minister",
    "A widely shared post",
    "The national football federation",
    "The electoral court",
    "A regional newspaper",
    "The energy regulator",
    "A former president",
    "The WHO",
    "A pharmaceutical company",
    "The army spokesman",
    "A trade union leader",
    "The UN",
    "A celebrity chef",
    "The tax authority",
    "A climate activist",
    "The police chief",
]
PREDICATES = [
    "doubled the minimum wage in {year}",
    "banned {thing} in all public schools",
    "said that {n}% of voters were paid to vote",
    "claimed {thing} causes cancer",
    "announced that {thing} will be free from {year}",
    "showed a photo of flooding in {place} that was taken in {year}",
    "said inflation fell to {n}% last month",
    "stated that {n} million people left {place} since {year}",
    "shared a map claiming {place} has no hospitals",
    "said the new law lets police enter homes without a warrant",
    "reported that {thing} was approved without any clinical trials",
    "claimed the election in {place} was decided by {n} fake ballots",
    "wrote that the {thing} tax will rise by {n}% in {year}",
    "said {place} imports {n}% of its wheat from abroad",
    "posted a video of {thing} allegedly filmed in {place}",
]
THINGS = [
    "5G",
    "electric cars",
    "the vaccine",
    "mobile phones",
    "public transport",
    "bottled water",
    "wind turbines",
    "the new ID card",
    "cryptocurrency",
    "the school lunch programme",
    "fluoride",
    "the pension reform",
    "solar panels",
    "facial recognition",
]
PLACES = [
    "Kyiv",
    "São Paulo",
    "Madrid",
    "Berlin",
    "Lagos",
    "Manila",
    "Marseille",
    "Buenos Aires",
    "Jakarta",
    "Montreal",
    "Barcelona",
    "Porto Alegre",
    "Hamburg",
    "Tunis",
    "Lima",
]
PEOPLE = [
    "Maria Zakharova",
    "Ana García",
    "João Silva",
    "Klaus Becker",
    "Amina Diallo",
    "Li Wei",
    "Sofia Rossi",
    "Pedro Alves",
    "Fatima Zahra",
    "Hans Müller",
    "Carmen López",
    "Olga Ivanova",
]
JOBS = [
    "Spokeswoman, Ministry of Foreign Affairs",
    "Senator",
    "Member of Parliament",
    "Mayor",
    "Health Minister",
    "Influencer",
    "Party leader",
    "Economist",
]
ORGANISATIONS = [
    "Ministry of Health",
    "National Statistics Office",
    "Citizens for Truth",
    "Energy Watch",
    "The Daily Herald",
    "Parliamentary Opposition",
    "Central Bank",
]
PLATFORMS = ["Facebook", "X", "TikTok", "Telegram", "YouTube", "Instagram", "WhatsApp"]
EXPLANATIONS = [
    "Official statistics published by the national statistics office show the opposite.",
    "The photo was taken years earlier in another country, as a reverse image search shows.",
    "The figure mixes two different indicators and omits the period it refers to.",
    "No law, decree or official announcement matches the claim; the ministry denied it.",
    "The video is genuine but was filmed in a different city and edited to change its meaning.",
    "Experts we consulted said the study cited does not support this conclusion.",
    "The quoted document exists, but the claim leaves out the exceptions it lists.",
    "Budget records and parliamentary minutes contradict the numbers in the post.",
]
TAGS = [
    "elections",
    "health",
    "economy",
    "climate",
    "migration",
    "vaccines",
    "energy",
    "war",
    "social media",
    "education",
    "crime",
    "technology",
    "religion",
    "sports",
    "agriculture",
]


class Collector:
    """Stands in for the ORM session in ``reviews.create``: keeps what would be added."""

    def __init__(self, engine: Engine) -> None:
        self.rows: list[object] = []
        self.info: dict[str, Any] = {}
        self.engine = engine

    def get_bind(self) -> Engine:
        return self.engine

    def add(self, row: object) -> None:
        self.rows.append(row)

    def flush(self) -> None:
        # What the ORM's flush would do that later rows depend on: the review's publisher_id.
        for row in self.rows:
            if isinstance(row, ClaimReview) and row.publisher_id is None:
                row.publisher_id = row.publisher.id

    def execute(self, *_statement: object) -> None:
        """Tag rows (``crud.replace_tags``) and queued images (``crud.replace_review_images``)
        are skipped: the read benchmark never filters by tag and fetches no image."""


def _columns(row: object) -> dict[str, Any]:
    """The column values of an ORM object, as the ORM would insert them."""
    values = {attr.key: getattr(row, attr.key) for attr in inspect(row).mapper.column_attrs}
    for key in ("id", "pk", "txid"):  # autoincrement or server default when not set
        if values.get(key) is None:
            values.pop(key, None)
    return values


def fact_check(rng: random.Random, publisher: dict[str, Any], number: int) -> dict[str, Any]:
    """One plausible fact-check in the native shape of ``seed-factcheck.json``."""
    year = rng.randint(2015, 2025)
    subject = rng.choice(SUBJECTS)
    predicate = rng.choice(PREDICATES).format(
        year=year, thing=rng.choice(THINGS), place=rng.choice(PLACES), n=rng.randint(2, 95)
    )
    claim_reviewed = f"{subject} {predicate}."
    published = date(2018, 1, 1) + timedelta(days=rng.randint(0, 2900))
    slug = "-".join(claim_reviewed.lower().rstrip(".").split()[:8])
    slug = "".join(ch for ch in slug if ch.isalnum() or ch == "-")
    article = publisher["site"] + publisher["path"].format(
        slug=slug, n=number, d=published.isoformat(), code=f"{number:08X}"
    )
    # Some articles review several claims: the review url carries an #anchor.
    url = f"{article}#claim-{rng.randint(1, 4)}" if rng.random() < 0.15 else article

    label, value = rng.choice(publisher["scale"])
    rating: dict[str, Any] = {"label": label}
    if publisher["numeric"] and value is not None:
        best = max(v for _, v in publisher["scale"] if v is not None)
        rating.update(value=value, best=best, worst=1)
    explanation = " ".join(rng.sample(EXPLANATIONS, rng.randint(3, 8)))
    rating["explanation"] = explanation

    when = published - timedelta(days=rng.randint(0, 20))
    if rng.random() < 0.6:
        author: dict[str, Any] = {"type": "Person", "name": rng.choice(PEOPLE)}
        if rng.random() < 0.7:
            author["job_title"] = rng.choice(JOBS)
        if rng.random() < 0.5:
            author["same_as"] = [
                "https://en.wikipedia.org/wiki/" + author["name"].replace(" ", "_")
            ]
    else:
        author = {"type": "Organization", "name": rng.choice(ORGANISATIONS)}
    appearances = []
    for _ in range(rng.randint(1, 4)):
        platform = rng.choice(PLATFORMS)
        appearance: dict[str, Any] = {
            "url": f"https://www.{platform.lower()}.com/post/{rng.getrandbits(48):x}",
            "date_published": (when + timedelta(days=rng.randint(0, 3))).isoformat(),
        }
        if rng.random() < 0.5:
            appearance["platform"] = platform
        if rng.random() < 0.3:
            appearance["archived_at"] = f"https://archive.ph/{rng.getrandbits(30):x}"
        appearances.append(appearance)

    review: dict[str, Any] = {
        "external_id": f"{publisher['slug']}-{number}",
        "status": "published",
        "url": url,
        "headline": f"Fact check: {claim_reviewed.rstrip('.')}? {label}",
        "claim_reviewed": claim_reviewed,
        "language": rng.choice(publisher["languages"]),
        "date_published": published.isoformat(),
        "rating": rating,
        "claim": {"author": author, "date": when.isoformat(), "appearances": appearances},
        "tags": rng.sample(TAGS, rng.randint(1, 6)),
    }
    if rng.random() < 0.5:
        review["authors"] = [
            {"name": name, "url": publisher["url"] + "author/" + name.split()[0].lower()}
            for name in rng.sample(PEOPLE, rng.randint(1, 2))
        ]
    if rng.random() < 0.2:
        review["image"] = publisher["url"] + f"images/{number}.jpg"
    if rng.random() < 0.05:
        review["corrections"] = [
            {
                "date": (published + timedelta(days=2)).isoformat(),
                "text": "An earlier version misstated the date of the original post.",
            }
        ]
    return review


def ensure_publishers(session: Session) -> list[tuple[Publisher, dict[str, Any]]]:
    found = []
    for spec in PUBLISHERS:
        row = session.scalar(select(Publisher).where(Publisher.slug == spec["slug"]))
        if row is None:
            incoming = PublisherCreate(
                slug=spec["slug"], name=spec["name"], url=spec["url"], language=spec["language"]
            )
            row = accounts.new_publisher(incoming)
            session.add(row)
            session.flush()
        found.append((row, spec))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="reviews to create")
    parser.add_argument("--ids", type=Path, required=True, help="file to write review ids to")
    parser.add_argument("--batch", type=int, default=2_000, help="rows per INSERT batch")
    parser.add_argument("--seed", type=int, default=2024, help="random seed")
    args = parser.parse_args()

    settings = get_settings()
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        publishers = ensure_publishers(session)

    with engine.connect() as connection:
        # Numbering (and so external_id) continues after rows already there.
        first = connection.scalar(select(func.count()).select_from(ClaimReview)) or 0
    rng = random.Random(args.seed + first)
    started = time.perf_counter()
    warnings = 0
    with args.ids.open("w") as ids:
        for offset in range(first, first + args.count, args.batch):
            collector = Collector(engine)
            for number in range(offset, min(offset + args.batch, first + args.count)):
                publisher, spec = publishers[number % len(publishers)]
                incoming = ReviewIn.model_validate(fact_check(rng, spec, number))
                review = reviews.create(
                    session=collector,  # type: ignore[arg-type]
                    publisher=publisher,
                    incoming=incoming,
                    actor="seed",
                    base_url=settings.public_base_url,
                )
                warnings += bool(review.findings)
            tables: dict[type, list[dict[str, Any]]] = {
                ClaimReview: [],
                ReviewRevision: [],
                OutboxEvent: [],
            }
            for row in collector.rows:
                tables[type(row)].append(_columns(row))
            with engine.begin() as connection:
                for model, rows in tables.items():
                    connection.execute(insert(model), rows)
            ids.writelines(row["id"] + "\n" for row in tables[ClaimReview])
            done = min(offset + args.batch, first + args.count) - first
            rate = done / (time.perf_counter() - started)
            print(f"\r{done:>7} reviews  {rate:,.0f}/s", end="", file=sys.stderr)
    engine.dispose()
    elapsed = time.perf_counter() - started
    print(
        f"\nseeded {args.count} reviews in {elapsed:.1f}s ({args.count / elapsed:,.0f}/s); "
        f"{warnings} with warnings; ids in {args.ids}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
