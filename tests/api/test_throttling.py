"""Rate limits per token: over the limit a call gets 429 with Retry-After."""

from __future__ import annotations

from django.test import override_settings


def test_it_answers_429_with_retry_after_over_the_limit(viewer, api):
    client, other = api(viewer), api(viewer)
    with override_settings(API_RATE_LIMIT="3/min"):
        codes = [client.get("/api/v1/images/").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.get("/api/v1/images/")
        assert int(limited["Retry-After"]) > 0
        assert limited["Content-Type"] == "application/problem+json"
        assert other.get("/api/v1/images/").status_code == 200  # each token has its own bucket
