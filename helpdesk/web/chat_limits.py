"""Small in-memory token buckets for the public resident endpoints.

Per process: behind several workers a resident could get a little more than
the limit by reconnecting to another worker, which is acceptable for abuse
protection (the limits stop floods, not a second message).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """``per_minute`` events per key, refilled continuously, bursts up to ``per_minute``."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 50_000) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit needs per_minute >= 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float | None:
        """Spend one token: None when allowed, else the seconds until one is free."""
        now = self.clock()
        tokens, stamp = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > self.max_keys:
            self._prune(now)
        return None

    def _prune(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: forget it.
        full = [key for key, (tokens, stamp) in self._buckets.items()
                if tokens + (now - stamp) * self.rate >= self.capacity]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) > self.max_keys:
            # Still too many (a flood from many addresses): drop the oldest half.
            ordered = sorted(self._buckets.items(), key=lambda item: item[1][1])
            for key, _ in ordered[: len(ordered) // 2]:
                del self._buckets[key]
