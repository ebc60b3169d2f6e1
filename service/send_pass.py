"""What one sending pass of an outbox did, texts and staff emails alike: the sweep's figures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PassResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    rejected: int = 0
    ambiguous: int = 0
    cancelled: int = 0
    failures: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.rejected + self.ambiguous + self.cancelled

    def count(self, outcome: str) -> None:
        """Tally one send by its gateway outcome; anything unclassified counts as ambiguous."""
        if outcome == "accepted":
            self.sent += 1
        elif outcome == "retry":
            self.retried += 1
        elif outcome == "rejected":
            self.rejected += 1
        else:
            self.ambiguous += 1
