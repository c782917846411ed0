"""Images named by reviews: queued when a review is written, fetched and perceptually hashed in
the background.

    review write ──(same transaction: crud.replace_review_images / crud.insert_reviews)──>
        review_image rows (review, place, image) + an ``image`` row per URL not seen before,
        ``pending`` and due now; nothing is fetched during the write
    image worker, one per worker process beside the webhook dispatcher (woken at once by a
    commit that queued images, else every ``dispatcher_interval_seconds``):
      1. claim    due pending images: locked_until = now + lease, committed before fetching
      2. fetch    under the outbound policy (app/services/outbound.py), concurrently
      3. hash     pHash and dHash (app/core/perceptual.py) in a thread
      4. record   hashed, with the hashes, bands, type, size and dimensions; or attempts + 1
                  and a retry after backoff with jitter; or failed after ``image_max_attempts``

An image is one row per URL, whatever the number of reviews naming it, so it is fetched once.
Claims work like webhook deliveries' (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the one write
lock on SQLite): a crashed worker's images come back when their lease runs out.
``claimreview images rehash`` fetches and hashes chosen images again, in its own process.
"""
