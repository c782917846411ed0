"""Export the JSON Schema of the native review input.

    python scripts/export_schemas.py [--output FILE] [--check]

writes `schemas/native-review.schema.json` from the pydantic model `app.core.document.ReviewIn`, the
one definition of what a CMS may send. The file is generated, never edited by hand:
tests/core/test_schemas.py checks that the committed file is what this script writes, so it cannot
drift from the model. `--check` writes nothing and exits 1 when the file is out of date.

The JSON-LD schema (`schemas/claimreview-jsonld.schema.json`) is written by hand instead: it
is the contract of the renderer's output, and the same tests check the renderer against it.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.core.document import ReviewIn

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "schemas/native-review.schema.json"

SCHEMA_ID = "urn:claimreview-api:schemas:native-review"
TITLE = "ClaimReview API native review"
DESCRIPTION = (
    "A claim review as a CMS writes it (POST /v1/claim-reviews, PUT and the by-external-id"
    " upsert; PATCH merges into it), in the native snake_case shape."
    " Generated from app.core.document.ReviewIn by scripts/export_schemas.py: do not edit."
    " The service also trims strings, normalises dates to ISO 8601 (UTC) and language tags"
    " to BCP 47 casing, and accepts only absolute http(s) URLs."
)


def native_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the native input, as the model defines it."""
    schema = ReviewIn.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": TITLE,
        "description": DESCRIPTION,
    }


def dumps(schema: dict[str, Any]) -> str:
    """The file's exact text: sorted keys, 2-space indent, UTF-8 as is, a final newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file is out of date; write nothing"
    )
    args = parser.parse_args(argv)
    text = dumps(native_schema())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"{args.output} is out of date: run scripts/export_schemas.py", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text.encode()):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
