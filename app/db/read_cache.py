"""The rows of recent light reads (list pages, an article's reviews), and whole anonymous list
pages (searches included), kept for as long as the database is provably unchanged.

A list page of one publisher costs PostgreSQL a statement and the decompression of twenty
stored documents, and the worker psycopg's machinery for one more query: together three
times what serving one stored review costs (bench/README.md, "List pages"). Syndication
partners ask for the same first pages again and again, so each process keeps the rows it read
last, tagged with a *version* of the whole database read before or with them:

- SQLite: ``PRAGMA data_version`` of the reading connection, which changes whenever another
  connection commits (and the reading connection never writes);
- PostgreSQL: the text of a snapshot (``pg_current_snapshot()``) taken just before the rows
  were read, in the same pipeline. Two equal snapshots see exactly the same committed
  transactions, and any commit anywhere in the cluster moves every later snapshot on (it
  leaves the list of transactions in progress, or it began after the snapshot and advanced
  its horizon), so a later snapshot equal to the tag means nothing was committed since.

A read is answered from here only when the version read *for that request* equals the entry's,
so a caller never sees a page older than a write that finished before it asked. There is no
expiry time to tune: the cost of a hit is reading the version (microseconds on SQLite, one
round trip shared by every request waiting on PostgreSQL). Entries are evicted least recently
used beyond ``budget`` bytes. An entry is charged for its key's text and Python's objects as
well as its documents: an anonymous caller chooses the key (the query string, up to
``CLAIMREVIEW_MAX_QUERY_BYTES``), and a flood of distinct empty pages, charged only for their
30-byte bodies, would have kept a million 8 KB keys under a 32 MB budget.
"""

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

# Python's objects around an entry's text (its dict node, tuples, the kept headers), and around
# each row's (the tuple, its number and timestamp), as tracemalloc measured them: ~410 and
# ~130 bytes.
ENTRY_BYTES = 512
ROW_BYTES = 160


class ReadCache:
    """Values (a query's rows, a whole list page) by key, each with the version it was read at."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._entries: OrderedDict[Hashable, tuple[Hashable, Any, int]] = OrderedDict()
        self._used = 0
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self._budget > 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def get(self, key: Hashable, version: Hashable) -> Any:
        """What was kept for ``key`` at ``version``, else None. Shared: copy before changing it."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: Hashable, version: Hashable, value: Any, *, size: int) -> None:
        """Keep ``value`` (``size`` bytes) read at ``version``: every read that missed comes
        here once. The key and the entry's own objects are charged on top."""
        self.misses += 1
        size += text_size(key) + ENTRY_BYTES
        if size > self._budget or not self.enabled:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._used -= old[2]
        self._entries[key] = (version, value, size)
        self._used += size
        while self._used > self._budget:
            _, (_, _, evicted) = self._entries.popitem(last=False)
            self._used -= evicted

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """Bytes held, as charged."""
        return self._used


def rows_size(rows: list[Any]) -> int:
    """What keeping a query's rows costs: their text and their objects."""
    return text_size(rows) + ROW_BYTES * len(rows)


def text_size(value: Any) -> int:
    """The bytes of text in a value: a string, bytes, or tuples and lists of them."""
    if isinstance(value, bytes | str):
        return len(value)
    if isinstance(value, tuple | list):
        return sum(text_size(item) for item in value)
    return 0
