"""The README and the user documentation (docs/) against the repository and the code.

`mkdocs build --strict` (CI) catches broken links between pages and pages missing from the nav;
these tests need no MkDocs. They check that the README's links reach existing files, that a
page's links stay inside docs/ (the site holds nothing else), and that the pages that list
something the code defines list all of it: every route, every setting with its default, every
finding code with its severity.
"""

import re
import unicodedata
from pathlib import Path

from app.config import Settings
from app.core import normalise, validation
from app.main import create_app
from app.services import importer
from tests.conftest import REPO

DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
# [text](target): the target up to its closing parenthesis or a space before a title.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)[^)]*\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def relative_links(path: Path) -> list[str]:
    """Links to files or headings, outside code (a code block may show link syntax)."""
    text = CODE_SPAN.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def slug(heading: str) -> str:
    """A heading's anchor as Python-Markdown's toc extension (MkDocs) makes it."""
    text = re.sub(r"`|\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", text).strip().lower())


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(heading) for heading in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def broken(source: Path, target: str) -> str | None:
    """Why the link from ``source`` to ``target`` goes nowhere, or None."""
    file_part, _, anchor = target.partition("#")
    destination = (source.parent / file_part).resolve() if file_part else source
    if not destination.is_file():
        return f"{source.name}: {target} (no such file)"
    if anchor and destination.suffix == ".md" and anchor not in anchors(destination):
        return f"{source.name}: {target} (no such heading)"
    return None


def table_rows(path: Path, first: str) -> list[list[str]]:
    """The cells of the table rows of ``path`` whose first cell matches ``first``."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(first, cells[0]):
            rows.append(cells)
    return rows


def test_the_readme_links_reach_existing_files_and_every_page() -> None:
    readme = REPO / "README.md"
    links = relative_links(readme)
    assert [problem for link in links if (problem := broken(readme, link))] == []
    linked = {(REPO / link.partition("#")[0]).resolve() for link in links}
    assert [page.name for page in PAGES if page.resolve() not in linked] == []


def test_every_page_links_only_to_pages_and_headings_that_exist() -> None:
    assert len(PAGES) > 10
    problems = []
    for page in PAGES:
        for link in relative_links(page):
            destination = (page.parent / link.partition("#")[0]).resolve()
            if not destination.is_relative_to(DOCS.resolve()):
                problems.append(f"{page.name}: {link} (outside docs/: name it as code instead)")
            elif problem := broken(page, link):
                problems.append(problem)
    assert problems == []


def test_the_link_checks_find_what_they_are_for(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text("# A page\n\n## Size and speed: `/v1/import`\n")
    source = tmp_path / "source.md"
    source.write_text(
        "[ok](page.md#size-and-speed-v1import) [gone](missing.md) [bad](page.md#nope)\n"
        "[web](https://example.org/) `[code](missing.md)`\n"
    )
    links = relative_links(source)
    assert links == ["page.md#size-and-speed-v1import", "missing.md", "page.md#nope"]
    assert [broken(source, link) is None for link in links] == [True, False, False]


def test_the_api_page_lists_every_route_and_no_other() -> None:
    """One row per method and path in the table of docs/api.md, "Every route"."""
    document = create_app(Settings(database_url="sqlite://")).openapi()
    served = {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
        for path, operations in document["paths"].items()
        for method in operations
    }
    rows = table_rows(DOCS / "api.md", r"`[A-Z]+`")
    listed = {(row[0].strip("`"), re.sub(r"\{[^}]+\}", "{}", row[1].strip("`"))) for row in rows}
    assert len(rows) == len(listed), "a route is listed twice"
    assert sorted(served - listed) == [], "routes the API page does not list"
    assert sorted(listed - served) == [], "routes the API page lists that do not exist"


def test_the_configuration_page_lists_every_setting_with_its_default() -> None:
    rows = {row[0].strip("`"): row[1] for row in table_rows(DOCS / "configuration.md", r"`\w+`")}
    problems = []
    for name, field in Settings.model_fields.items():
        variable = f"CLAIMREVIEW_{name.upper()}"
        default = field.default
        if variable not in rows:
            problems.append(f"{variable} is not listed")
            continue
        cell = rows.pop(variable)
        literal = cell[1:-1] if re.fullmatch(r"`[^`]*`", cell) else None
        if default is None:
            expected = None  # "unset", or what it falls back to in words
        elif isinstance(default, bool):
            expected = str(default).lower()
        elif isinstance(default, float):
            expected = f"{default:g}"
        else:
            expected = str(default)
        if literal != expected:
            problems.append(f"{variable}: documented {cell}, default {default!r}")
    assert problems == []
    # The rest must be read somewhere else: the image's Dockerfile, or the tests.
    elsewhere = (REPO / "Dockerfile").read_text() + "".join(
        path.read_text() for path in (REPO / "tests").rglob("*.py") if path != Path(__file__)
    )
    assert [variable for variable in rows if variable not in elsewhere] == []


def documented_codes(*modules: object) -> set[tuple[str, str]]:
    """(code, E or W) as the modules' docstrings list them: ``empty-value W``."""
    found: set[tuple[str, str]] = set()
    for module in modules:
        doc = getattr(module, "__doc__", None) or ""
        found |= set(re.findall(r"(?<![\w`-])`{0,2}([a-z]+(?:-[a-z]+)*)`{0,2} ([EW])\b", doc))
    return found


def test_the_migration_page_lists_every_finding_code_with_its_severity() -> None:
    in_code = documented_codes(normalise, validation, importer)
    assert ("missing-claim", "E") in in_code and ("value-dropped", "W") in in_code
    rows = table_rows(DOCS / "migrating-markup.md", r"`[a-z]+(-[a-z]+)*`")
    on_page = {(row[0].strip("`"), row[1]) for row in rows}
    assert sorted(in_code - on_page) == [], "codes the page does not list"
    assert sorted(on_page - in_code) == [], "codes the page lists that the code does not name"
