"""Registrable domains by the Public Suffix List (app/core/domains.py), and the URL-to-publisher
rule that follows from them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.domains import on_domains, owners, registrable_domain
from app.core.validation import url_on_domains

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("factcheck.afp.com", "afp.com"),
        ("factuel.afp.com", "afp.com"),
        ("factcheckhindi.afp.com", "afp.com"),
        ("afp.com", "afp.com"),
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("piaui.folha.uol.com.br", "uol.com.br"),
        ("someone.blogspot.com", "someone.blogspot.com"),  # a private suffix
        ("a.b.checkers.github.io", "checkers.github.io"),
        ("www.factcheck.example", "factcheck.example"),  # no rule: the default rule "*"
        ("co.uk", "co.uk"),  # a public suffix names itself
        ("localhost", "localhost"),
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8::1", "2001:db8::1"),
    ],
)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


def test_owners_stop_at_the_registrable_domain() -> None:
    assert owners("a.factuel.afp.com") == ("a.factuel.afp.com", "factuel.afp.com", "afp.com")
    assert owners("someone.blogspot.com") == ("someone.blogspot.com",)
    assert owners("bbc.co.uk") == ("bbc.co.uk",)


@pytest.mark.parametrize(
    ("url", "domains", "expected"),
    [
        ("https://factuel.afp.com/x", ["afp.com"], True),
        ("https://factuel.afp.com/x", ["factcheck.afp.com"], False),
        ("https://www.bbc.co.uk/news", ["bbc.co.uk"], True),
        ("https://www.bbc.co.uk/news", ["co.uk"], False),
        ("https://someone.blogspot.com/", ["blogspot.com"], False),
        ("https://blogspot.com/", ["blogspot.com"], True),
        ("https://evil.com/", ["com"], False),
        ("https://checkers.github.io/", ["checkers.github.io"], True),
        ("https://other.github.io/", ["github.io"], False),
    ],
)
def test_url_on_domains_goes_no_higher_than_the_registrable_domain(
    url: str, domains: list[str], expected: bool
) -> None:
    assert url_on_domains(url, domains) is expected


def test_on_domains_compares_clean_hosts() -> None:
    assert on_domains("factcheck.afp.com", ("example.org", "afp.com"))
    assert not on_domains("afp.com", ("factcheck.afp.com",))


def test_the_bundled_list_is_read_without_network_or_cache(tmp_path: Path) -> None:
    """In a fresh process whose every connection or name look-up raises, the list is the one
    shipped in the package; no cache is written under the home or cache directories."""
    script = """
import sys

def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                 "http.client.connect", "urllib.Request"):
        raise RuntimeError(f"network: {event}")

sys.addaudithook(refuse)
from app.core.domains import registrable_domain
print(registrable_domain("factcheckhindi.afp.com"), registrable_domain("x.blogspot.com"))
"""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TLDEXTRACT_CACHE": str(home / "tldextract"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["afp.com", "x.blogspot.com"]
    assert list(home.iterdir()) == []
