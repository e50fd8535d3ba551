"""interaction/ws/rate.py: token buckets per user, shared by the user's sockets."""

from __future__ import annotations

from interaction.ws.rate import TokenBucket, user_rate_join, user_rate_leave


def test_a_bucket_lets_a_burst_through_then_its_rate() -> None:
    bucket = TokenBucket(rate=10, burst=3, updated=0.0)
    assert [bucket.take(now=0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(now=0.05) is False  # half a token back
    assert bucket.take(now=0.1) is True
    assert [bucket.take(now=100.0) for _ in range(4)] == [True, True, True, False]  # burst cap


def test_a_users_sockets_share_one_bucket() -> None:
    first, second = user_rate_join("rate-user"), user_rate_join("rate-user")
    assert first is second
    assert first.sockets == 2
    user_rate_leave("rate-user")
    user_rate_leave("rate-user")
    assert user_rate_join("rate-user") is first  # a reconnect does not refill it
    user_rate_leave("rate-user")
