"""Signed webhooks: subscriptions, the outbox dispatcher and delivery.

    review write ──(same transaction, reviews._commit_change)──> outbox_event
    dispatcher tick, one per worker process:
      1. fan-out  outbox_event rows with dispatched_at NULL, in id order ──> one webhook_delivery
                  per matching subscription; dispatched_at set; one transaction
      2. claim    due deliveries, at most one per subscription: locked_until = now + lease;
                  committed before anything is sent
      3. deliver  POST the signed JSON, outside any transaction
      4. record   delivered; or attempts + 1 and a retry after backoff with jitter; or failed
                  after ``webhook_max_attempts``, and the subscription is marked failing

Guarantees.
- Nothing is lost: an event is in the outbox from the moment its change commits, and a
  delivery is marked only after its POST returned. A process that dies between claim and
  record leaves the delivery locked until its lease runs out; any dispatcher then sends it
  again with the same event id. Delivery is therefore *at least once*: receivers deduplicate
  on ``X-ClaimReview-Delivery`` (the outbox event id, also the payload's ``id``).
- Once per subscription: on PostgreSQL several workers and hosts fan out and claim with
  ``FOR UPDATE SKIP LOCKED``; on SQLite every transaction starts with ``BEGIN IMMEDIATE``
  (db/engine.py), so dispatchers take turns. The unique (webhook_id, event_id) constraint is the
  backstop. Only an expired lease (a crash, or a POST that outlived it) sends an event twice.
- Order is best effort: a subscription has at most one delivery in flight per process and
  deliveries go out in event order, but a retry does not hold back later events, and workers
  run side by side. Receivers order by ``version`` (it increases with every change of a review).
- Published reviews only, whoever owns the subscription (a publisher, a partner or the
  platform): an event is written only when a review is published, changed while published or
  taken down (reviews._event_type), and carries the published version's JSON-LD, or for a
  take-down a tombstone with the URL last published. A draft never produces a delivery.
- Filters read the review's publisher, language and verdict when the event is fanned out.
- A subscription receives the events of changes made after it was created.

Safety: the outbound policy (app/services/outbound.py): only http(s) URLs whose host resolves
to public addresses (unless ``outbound_allow_private``), checked when the subscription is
created and again before every attempt, the connection made to the address checked. Redirects
are not followed, connect and read time out, the whole attempt has a deadline, and at most
``webhook_max_response_bytes`` of the answer are read.
"""

import logging

logger = logging.getLogger("claimreview.webhooks")
