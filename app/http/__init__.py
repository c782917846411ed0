"""What every request and response passes through around the routes: middleware, limits, security
and caching headers, cursors, logs, metrics, the HTTP protocol and the collector's settling."""
