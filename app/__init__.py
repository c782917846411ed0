"""ClaimReview API: store fact-checks per publisher and publish them as ClaimReview JSON-LD."""
