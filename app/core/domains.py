"""Whose site a host is on: registrable domains, by the Public Suffix List.

A publisher's ``domains`` are where its articles live, and a URL is on one of them when its host
is that domain or a subdomain of it. "Subdomain" stops at the registrable domain (the public
suffix and one label more: ``afp.com``, ``bbc.co.uk``, ``someone.blogspot.com``): a publisher
whose domain is a public suffix (``co.uk``, ``blogspot.com``) owns nobody else's site under it.
The same rule decides the one publisher an aggregator's import creates for
``factcheck.afp.com``, ``factuel.afp.com`` and ``factcheckhindi.afp.com``: ``afp.com``.

The list is tldextract's bundled snapshot, ICANN and private sections (private suffixes such as
``blogspot.com`` and ``github.io`` are where independent sites live). It is read once and never
fetched or cached on disk: deciding a domain makes no network request and writes no file.
"""

import ipaddress
from functools import lru_cache

import tldextract

# No URLs to fetch and no cache directory: the snapshot shipped inside the package, always.
_EXTRACT = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
)


def clean(domain: str) -> str:
    """A domain or host as compared: lower case, no surrounding space, no trailing dot."""
    return domain.strip().lower().removesuffix(".")


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """The registrable domain of a (clean) host: ``factuel.afp.com`` -> ``afp.com``.

    A host under no rule of the list (``factcheck.example``) takes the list's default rule
    ``*``: its last label is the suffix. An IP address, a single label and a public suffix
    itself are their own registrable domain, so that each still names one site.
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    parts = _EXTRACT(host)
    if not parts.suffix:
        return ".".join(host.rsplit(".", 2)[-2:])
    if not parts.domain:
        return host
    return f"{parts.domain}.{parts.suffix}"


@lru_cache(maxsize=4096)
def owners(host: str) -> tuple[str, ...]:
    """The domains a (clean) host is on, longest first: itself, then each parent down to its
    registrable domain (``factuel.afp.com``, ``afp.com``; never ``com``)."""
    last = registrable_domain(host)
    if not host.endswith("." + last):
        return (host,)
    labels = host.split(".")
    return tuple(".".join(labels[start:]) for start in range(len(labels) - last.count(".")))


def on_domains(host: str, domains: tuple[str, ...] | frozenset[str]) -> bool:
    """Whether a (clean) host is one of (clean) ``domains`` or under one, within its
    registrable domain."""
    return any(owner in domains for owner in owners(host))
