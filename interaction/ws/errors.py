"""The one exception the socket turns into an `error` event."""

from __future__ import annotations


class StreamError(Exception):
    """A client mistake answered with an `error` event; the stream goes on unless `fatal`.

    `fallback`: streaming cannot go on for this session; the client should switch to the
    time-stop POST.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        fatal: bool = False,
        fallback: bool = False,
    ) -> None:
        super().__init__(message)
        self.code, self.retryable, self.fatal, self.fallback = code, retryable, fatal, fallback
