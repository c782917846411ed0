"""What the service does with the data, on top of core/ and db/: every write (reviews, imports,
publishers, keys, idempotent replays), syndication formats and webhooks."""
