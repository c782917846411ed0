"""The service's log lines: one JSON object per line (default) or the classic text layout.

An access line is logged with its fields as the one mapping argument of a %-style message, so
the same record renders either way: ``record.getMessage()`` gives the text line, while the JSON
formatter serialises the mapping itself with one ``orjson.dumps`` (no message formatting).
Error lines carry the request id of the request they were logged in (``request_id``, a context
variable the middleware sets).

Secrets stay out because nothing that carries one is logged: no headers, no query strings
(Google's ``key=`` is an API key), no SQL parameters (``db/engine.py`` hides them).
"""

import logging
import time
from contextvars import ContextVar
from typing import Any, Literal

import orjson

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
ACCESS_LOGGER = "claimreview.access"
access_logger = logging.getLogger(ACCESS_LOGGER)
_STARTED_NS = time.time_ns()

ACCESS_LINE = '%(client)s "%(method)s %(path)s" %(status)d %(duration_ms).1fms id=%(request_id)s'


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", ...}``: the access fields, or ``message`` (and ``error``
    with the traceback) for any other line."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        stamp = self._time(record.created)
        if record.msg is ACCESS_LINE:
            fields: Any = record.args
            return orjson.dumps(
                {"time": stamp, "level": record.levelname, "logger": record.name, **fields}
            ).decode()
        entry: dict[str, Any] = {
            "time": stamp,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            entry["request_id"] = current
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()

    def _time(self, created: float) -> str:
        """ISO 8601 UTC with milliseconds; the part up to the second is formatted once a second."""
        second = int(created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int((created - second) * 1000):03d}Z"


def configure(*, level: str, fmt: Literal["json", "text"]) -> None:
    """Send the service's own log lines (access log, errors) to stderr, once per process."""
    # Neither format shows the caller, thread or process: skip collecting them for every record
    # (the logging docs' "Optimization" knobs; half the cost of an access line).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logger = logging.getLogger("claimreview")
    logger.setLevel(level.upper())
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler())
    formatter = (
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    for handler in logger.handlers:
        handler.setFormatter(formatter)


# The attributes of every access line's record but its time and fields: its caller, thread and
# process are never collected (``configure``), so they are what ``logging`` sets then.
_ACCESS_RECORD = {
    "name": ACCESS_LOGGER,
    "msg": ACCESS_LINE,
    "levelname": "INFO",
    "levelno": logging.INFO,
    "pathname": "(unknown file)",
    "filename": "(unknown file)",
    "module": "(unknown file)",
    "lineno": 0,
    "funcName": "(unknown function)",
    "exc_info": None,
    "exc_text": None,
    "stack_info": None,
    "thread": None,
    "threadName": None,
    "processName": None,
    "process": None,
}


class AccessRecord(logging.LogRecord):
    """An access line's record, made without ``LogRecord.__init__`` (half the cost of a line).
    Formatters read a record's ``__dict__``, so every attribute is set on the instance."""

    def __init__(self, fields: dict[str, Any]) -> None:  # the parent's work is skipped
        now = time.time_ns()
        self.__dict__.update(_ACCESS_RECORD)
        self.args = fields
        self.created = now / 1e9
        self.msecs = (now % 1_000_000_000) // 1_000_000 + 0.0
        self.relativeCreated = (now - _STARTED_NS) / 1e6  # since this module was loaded


def access(
    *,
    request_id: str,
    method: str,
    route: str,
    path: str,
    status: int,
    duration_ms: float,
    sent: int,
    client: str,
) -> None:
    """One access line: what was asked, by whom, and how it was answered. Handed to the
    logger's handlers as any record is (so the handlers, filters and levels set up for
    ``claimreview.access`` apply), without ``Logger.info``'s record-making."""
    if not access_logger.isEnabledFor(logging.INFO):
        return
    fields = {
        "request_id": request_id,
        "method": method,
        "route": route,
        "path": path,
        "status": status,
        "duration_ms": duration_ms,
        "bytes": sent,
        "client": client,
    }
    access_logger.handle(AccessRecord(fields))
