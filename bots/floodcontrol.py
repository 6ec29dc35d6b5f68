"""Flood control: what a bot may send now, and what waits, without losing anything.

Chat servers throttle, mute or disconnect a client that sends too fast, and a channel
buried under a burst of alerts is no use to anyone. A bot therefore sends through a
`TokenBucket` (a burst at once, then a steady rate) and keeps what must wait in an
`Outbox`. The outbox holds up to `backlog` messages per channel; alerts beyond that
are not queued one by one but counted, and a single line saying "N more alerts"
takes their place in the queue. Nothing is dropped silently.
"""

import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mozdef.bots.formatting import Message, held_back_message


class TokenBucket:
    """`burst` messages at once, then `rate` a second."""

    def __init__(self, burst: int, rate: float, clock: Callable[[], float] = time.monotonic):
        self.burst = burst
        self.rate = rate
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()

    def refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def delay(self) -> float:
        """Seconds until a message may be sent; 0 if one may be sent now."""
        self.refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        """Spend a token on a message (after `delay` said 0)."""
        self.refill()
        self.tokens -= 1


@dataclass
class HeldBack:
    """Holds the place, in the queue, of the alerts one target could not queue."""

    severities: Counter[str] = field(default_factory=Counter)


class Outbox:
    """Messages waiting to be sent, oldest first, at most `backlog` per target."""

    def __init__(self, backlog: int) -> None:
        self.backlog = backlog
        self.entries: deque[tuple[str, Message | HeldBack]] = deque()
        self.waiting: Counter[str] = Counter()
        self.held: dict[str, HeldBack] = {}

    def add_alert(self, target: str, message: Message, severity: str) -> None:
        """Queue an alert, or count it in the target's "N more alerts" if it is full."""
        if self.waiting[target] < self.backlog:
            self.entries.append((target, message))
            self.waiting[target] += 1
            return
        held = self.held.get(target)
        if held is None:
            held = self.held[target] = HeldBack()
            self.entries.append((target, held))
        held.severities[severity] += 1

    def add_reply(self, target: str, messages: Sequence[Message]) -> bool:
        """Queue a command's reply whole; False (not queued) if the target is full."""
        if self.waiting[target] >= self.backlog:
            return False
        self.entries.extend((target, message) for message in messages)
        self.waiting[target] += len(messages)
        return True

    def retry(self, target: str, message: Message) -> None:
        """Put back, first in line, a message that could not be sent."""
        self.entries.appendleft((target, message))
        self.waiting[target] += 1

    def pop(self, ready: Callable[[str], bool]) -> tuple[str, Message] | None:
        """The oldest message whose target is `ready`, taken out; None if there is none."""
        for index, (target, item) in enumerate(self.entries):
            if ready(target):
                del self.entries[index]
                if isinstance(item, HeldBack):
                    del self.held[target]
                    return target, held_back_message(item.severities)
                self.waiting[target] -= 1
                return target, item
        return None

    def undelivered(self) -> int:
        """Messages and held-back alerts still waiting."""
        held = sum(sum(item.severities.values()) for item in self.held.values())
        return self.waiting.total() + held
