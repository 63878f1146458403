"""Feature use and free-text feedback, and the PII a comment sometimes carries (contacts, card
numbers, SSNs, IP addresses, IBANs: each valid, so the masking is tested for real)."""

from __future__ import annotations

from typing import Any

from lake.simulator import catalog as C
from lake.simulator.engine.members import Member

# What a comment with PII carries (twice as often a contact: email or phone, as before).
PII_COMMENT_KINDS = ("contact", "contact", "card", "ssn", "ip", "iban")


def _luhn_check_digit(digits: list[int]) -> int:
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


class Feedback:
    """Feature use and comments (methods of :class:`~lake.simulator.engine.simulation.Simulation`)."""

    def _feature(self, u: Member, t: int) -> None:
        rng = self.rng
        feature = rng.choice(C.FEATURES)
        props: dict[str, Any] = {"feature": feature}
        pii = False
        if feature == "feedback":
            props["comment"], pii = self._comment(u)
        self._pii_pending = pii
        self._track(u, t, "Feature Used", props)

    def _comment(self, u: Member) -> tuple[str, bool]:
        rng = self.rng
        text = rng.choice(C.COMMENTS)
        if rng.random() < self.cfg.pii_comment_rate:
            contact = u.traits["email"] if rng.random() < 0.5 else u.traits["phone"]
            kind = self.pii_rng.choice(PII_COMMENT_KINDS)
            self.pii_kinds[kind] += 1
            if kind == "contact":
                return f"{text}. Contact me at {contact}", True
            return f"{text}. {self._pii_text(kind)}", True
        return text, False

    def _pii_text(self, kind: str) -> str:
        """A sentence with one valid identifier of ``kind`` (made by the PII generator)."""
        r = self.pii_rng
        if kind == "card":
            digits = [4] + [r.randint(0, 9) for _ in range(14)]
            digits.append(_luhn_check_digit(digits))
            number = "".join(map(str, digits))
            grouped = " ".join(number[i : i + 4] for i in range(0, 16, 4))
            return f"I was charged twice on card {grouped}"
        if kind == "ssn":
            return (
                f"My SSN is {r.randint(1, 665):03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"
            )
        if kind == "ip":
            return f"It failed from IP {r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        bban = f"{r.randint(10**7, 10**8 - 1)}{r.randint(10**9, 10**10 - 1)}"  # DE: 18 digits
        check = 98 - int(bban + "131400") % 97  # D=13 E=14, check digits 00 while computing
        return f"Please refund to DE{check:02d}{bban}"
