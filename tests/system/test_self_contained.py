"""A plain clone of the repository must be all the tests, the README, the scripts and the
benchmarks need: no file may reach for a path beside or above the checkout (the workspace it
was written in, someone's home directory)."""

import re
import subprocess
from pathlib import Path

from tests.conftest import REPO

# Paths that exist only on the machine a file was written on. The character classes keep this
# file from matching its own patterns.
OUTSIDE = re.compile(
    r"\.\./[s]hared\b"  # the workspace folder beside the repository
    r"|/[w]ork/"  # the workspace itself
    r"|/home/[a-z_][\w.-]*/"  # someone's home directory (Linux)
    r"|/Users/[\w.-]+/"  # ... (macOS)
    r"|/[r]oot/"
    r"|[A-Za-z]:\\\\?Users\\"  # ... (Windows)
)
# ``Path(__file__).resolve().parents[N]``: N levels up from the file's folder.
PARENTS = re.compile(r"__file__\)(?:\.resolve\(\))?\.parents\[(\d+)\]")


def project_files() -> list[Path]:
    """Every file git tracks, or would track once added (untracked but not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    files = [REPO / name for name in listed.decode().split("\0") if name]
    assert len(files) > 50, "git listed almost nothing: is this the repository?"
    return files


def text_of(path: Path) -> str | None:
    """The file's text, or None for a binary file, a deleted one or a symlink."""
    if path.is_symlink() or not path.is_file():
        return None
    data = path.read_bytes()
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def test_no_file_names_a_path_outside_the_repository() -> None:
    found = []
    for path in project_files():
        text = text_of(path)
        for number, line in enumerate((text or "").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert found == []


def test_no_file_climbs_above_the_repository_from_its_own_place() -> None:
    found = []
    for path in project_files():
        depth = len(path.relative_to(REPO).parts) - 1  # parents[depth] is the repository
        for match in PARENTS.finditer(text_of(path) or ""):
            if int(match[1]) > depth:
                found.append(f"{path.relative_to(REPO)}: parents[{match[1]}]")
    assert found == []


def test_symlinks_point_inside_the_repository() -> None:
    links = [path for path in project_files() if path.is_symlink()]
    assert links, "app/schemas and app/migrations are symlinks"
    for link in links:
        assert link.resolve().is_relative_to(REPO.resolve()), link
        assert link.resolve().exists(), link


def test_the_patterns_find_what_they_are_for() -> None:
    """The scans above pass when they find nothing; make sure they would find the real cases.
    (The samples are put together here so that this file does not match them.)"""
    assert OUTSIDE.search("--data @.." + "/shared/examples/seed-factcheck.json")
    assert OUTSIDE.search("/wo" + "rk/main/.venv/bin/python")
    assert OUTSIDE.search("/home" + "/alice/src/claimreview")
    assert not OUTSIDE.search("GET /v1/claim-reviews/../../etc/passwd")
    assert not OUTSIDE.search("PROMETHEUS_MULTIPROC_DIR=/tmp/claimreview-metrics")
    climb = PARENTS.search("Path(__file__).resolve().parents" + "[2] / 'shared'")
    assert climb is not None and climb[1] == "2"
