"""Logging set-up, and a logger that cannot flood: a failing plugin fails on every event."""

import logging
import time


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )


class RateLimitedLog:
    """Logs at most `burst` messages per `interval` seconds and counts the rest.

    The first message after a quiet spell says how many were held back, so the log shows
    the scale of a problem without repeating it thousands of times a second.
    """

    def __init__(self, logger: logging.Logger, interval: float = 60.0, burst: int = 5) -> None:
        self.logger = logger
        self.interval = interval
        self.burst = burst
        self.window_start = float("-inf")
        self.logged = 0
        self.suppressed = 0

    def exception(self, message: str, *args: object) -> None:
        """Log `message` with the current exception's traceback, unless over the limit."""
        now = time.monotonic()
        if now - self.window_start >= self.interval:
            if self.suppressed:
                self.logger.error("%d similar messages suppressed", self.suppressed)
            self.window_start, self.logged, self.suppressed = now, 0, 0
        if self.logged < self.burst:
            self.logged += 1
            self.logger.exception(message, *args)
        else:
            self.suppressed += 1
