"""PII masking applied to every message before anything is written (WAL, Delta, quarantine).

Three mechanisms, all pure functions:

* **A field policy** (:class:`core.pii_policy.FieldPolicy`, default :data:`DEFAULT_POLICY`, or a
  YAML/JSON file named by ``PULSE_PII_POLICY_PATH``) says which trait and context fields are PII and what happens
  to each: ``pseudonymize`` with a keyed HMAC-SHA256 (the same input gives the same token under one
  key, so analysts can still count and join, but the clear value cannot be recovered or
  brute-forced without the key; output ``"hmac:<key id>:<32 hex>"``; tokens are left alone, so
  masking is idempotent), ``drop`` (the field is removed), ``truncate`` (IP addresses: IPv4 to its /24, IPv6
  to its /48) or ``keep``. Trait rules apply to ``traits`` and ``context.traits`` alike; a rule may
  hold rules for the fields of a nested object (``address: {street: drop, ...}``).
* **Free-text scanning** of every string in properties/traits/context (and event/name and any
  unknown top-level field): emails, phone numbers and Luhn-valid card numbers are replaced by
  ``[email]``, ``[phone]``, ``[card]``. Cheap character pre-checks (``'@' in s``, a digit) skip the
  regexes for the vast majority of strings.

Identifiers (userId, anonymousId, previousId, groupId) that *are* an email address are
pseudonymized with the HMAC (not masked), so identity stitching still works.

Every function returns counts of what it masked (a :class:`MaskCounts`), for metrics.

Key rotation: a token names the key that made it (``key id`` = a short keyed digest of the key,
never the key). :class:`Keyring` holds the current key (``PULSE_PII_HMAC_KEY``) and the previous
ones (``PULSE_PII_HMAC_PREVIOUS_KEYS``): new data uses the current key only, while
:meth:`Keyring.tokens_for` gives a value's token under every key, so an erasure finds what was
pseudonymized before a rotation. Procedure: docs/privacy.md.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from core.pii_policy import DEFAULT_POLICY, DROP, KEEP, PSEUDONYMIZE, TRUNCATE, FieldPolicy

IDENTITY_FIELDS: tuple[str, ...] = ("userId", "anonymousId", "previousId", "groupId")
HMAC_PREFIX = "hmac:"
_HMAC_HEX_CHARS = 32  # 128 bits: collision-free in practice, short enough to keep rows small
_KEY_ID_HEX_CHARS = 8
_KEY_ID_LABEL = b"pulse-pii-key-id\x00"

# Top-level envelope fields that hold no free text (ids handled separately, timestamps parsed).
_STRUCTURAL_FIELDS = frozenset(
    {
        "type",
        "messageId",
        "timestamp",
        "originalTimestamp",
        "sentAt",
        "receivedAt",
        "writeKey",
        "version",
        "channel",
        *IDENTITY_FIELDS,
    }
)

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_EMAIL_FULL_RE = re.compile(rf"^\s*{EMAIL_RE.pattern}\s*$")
# Cards: 13-19 digits, optionally grouped by single spaces or dashes; confirmed with Luhn.
# A longer digit run is searched inside for a card (a card typed right after another number).
_CARD_RE = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,47}(?![\w-])")
# Phones: either international (+ and 7-15 digits, optional separators) or national with
# separators (555-123-4567, (555) 123-4567, 555.123.4567). Bare digit runs are not phones
# (they are usually ids); long ones are checked as cards instead.
_PHONE_RE = re.compile(
    r"(?<![\w.+-])(?:"
    r"\+\d(?:[ .-]?\(?\d\)?){6,14}"
    r"|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}"
    r"|\d{2,4}[ .-]\d{3,4}[ .-]\d{3,4}"
    r")(?![\w.-]?\d)"
)
_DIGIT_RE = re.compile(r"\d")
# National ids and IPv4, each a separate regex behind a cheap pre-check (one alternation of all
# four costs ~10x more per string on the hot path); matches are then confirmed by a validator.
# US SSN AAA-GG-SSSS (dashes or spaces, the same twice); IBAN compact or in 4-groups; UK National
# Insurance number; IPv4 dotted quad (not part of a longer dotted number such as a version).
_SSN_RE = re.compile(r"(?<![\w-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w-])")
_UPPER_ID_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?P<iban>[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?)"
    r"|(?P<nino>[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D])"
    r")(?![A-Za-z0-9])"
)
_IPV4_RE = re.compile(r"(?<![\w.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\w|\.\d)")
# IPv6 candidates: hex groups with at least two colons; ipaddress decides.
_IPV6_RE = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
# SSNs the SSA declared void after they were published (wallet card, advertising).
_SSN_VOID = frozenset({"078-05-1120", "219-09-9999"})
MASK_KINDS = (
    "pseudonymized",
    "dropped",
    "emails",
    "phones",
    "cards",
    "ips",
    "text_ips",
    "ssns",
    "ibans",
    "ninos",
)


@dataclass(slots=True)
class MaskCounts:
    """How many values were masked, by kind (feeds the collector's metrics)."""

    pseudonymized: int = 0
    dropped: int = 0
    emails: int = 0
    phones: int = 0
    cards: int = 0
    ips: int = 0  # IP fields truncated by the policy (context.ip)
    text_ips: int = 0  # IP addresses found in free text
    ssns: int = 0
    ibans: int = 0
    ninos: int = 0
    by_field: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(getattr(self, kind) for kind in MASK_KINDS)

    def add(self, other: MaskCounts) -> None:
        for kind in MASK_KINDS:
            setattr(self, kind, getattr(self, kind) + getattr(other, kind))
        for k, v in other.by_field.items():
            self.by_field[k] = self.by_field.get(k, 0) + v


# ---- primitives --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def key_id(key: bytes) -> str:
    """A short public name of a key (a keyed digest of a fixed label: reveals nothing of the key)."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:_KEY_ID_HEX_CHARS]


def token_key_id(token: str) -> str | None:
    """The key id a token was made with (``None`` if it is not a token of this format)."""
    if not token.startswith(HMAC_PREFIX):
        return None
    kid, sep, digest = token[len(HMAC_PREFIX) :].partition(":")
    return kid if sep and len(digest) == _HMAC_HEX_CHARS else None


def pseudonymize(value: Any, key: bytes) -> str:
    """Keyed HMAC-SHA256 token ``hmac:<key id>:<digest>`` of a PII value; idempotent on tokens.

    Emails are case-folded and values stripped, so trivially different spellings join."""
    if isinstance(value, str):
        if value.startswith(HMAC_PREFIX):
            return value
        text = value.strip()
        if "@" in text:
            text = text.lower()
        data = text.encode()
    else:
        data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    digest = hmac.new(key, data, hashlib.sha256).hexdigest()
    return f"{HMAC_PREFIX}{key_id(key)}:{digest[:_HMAC_HEX_CHARS]}"


@functools.lru_cache(maxsize=65_536)
def truncate_ip(ip: str) -> str | None:
    """IPv4 → /24 network address, IPv6 → /48; ``None`` if it is not an IP address."""
    parts = ip.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        return f"{int(parts[0])}.{int(parts[1])}.{int(parts[2])}.0"  # fast path: plain IPv4
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if addr.version == 4:
        net = ipaddress.IPv4Network(f"{addr}/24", strict=False)
    else:
        if addr.ipv4_mapped is not None:
            return truncate_ip(str(addr.ipv4_mapped))
        net = ipaddress.IPv6Network(f"{addr}/48", strict=False)
    return str(net.network_address)


def luhn_valid(digits: str) -> bool:
    total = 0
    parity = len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000; not a voided number."""
    return (
        area != "000"
        and area != "666"
        and area[0] != "9"
        and group != "00"
        and serial != "0000"
        and f"{area}-{group}-{serial}" not in _SSN_VOID
    )


def iban_valid(iban: str) -> bool:
    """ISO 13616: 15-34 characters, check digits by mod-97 (rearranged, letters A=10 ... Z=35)."""
    compact = iban.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def nino_valid(nino: str) -> bool:
    """UK National Insurance number: prefix letters allowed by HMRC (no checksum exists)."""
    return nino[:2] not in _NINO_BAD_PREFIXES


def ipv4_valid(text: str) -> bool:
    return all(int(part) <= 255 for part in text.split("."))


def _mask_ipv6(text: str, counts: MaskCounts | None) -> str:
    def _ip(m: re.Match[str]) -> str:
        candidate = m.group(0)
        if "::" not in candidate and candidate.count(":") != 7:
            return candidate  # times (12:30:45), MACs, ratios: not an IPv6 address
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            return candidate
        if counts is not None:
            counts.text_ips += 1
        return "[ip]"

    return _IPV6_RE.sub(_ip, text)


def _mask_ids(text: str, counts: MaskCounts | None) -> str:
    """SSNs, IBANs, NINOs and IPv4 addresses (search first: most strings hold none)."""
    if _SSN_RE.search(text) is not None:

        def _ssn(m: re.Match[str]) -> str:
            if not ssn_valid(m.group(1), m.group(3), m.group(4)):
                return m.group(0)
            if counts is not None:
                counts.ssns += 1
            return "[ssn]"

        text = _SSN_RE.sub(_ssn, text)
    if _UPPER_ID_RE.search(text) is not None:

        def _upper(m: re.Match[str]) -> str:
            if m.lastgroup == "iban":
                if iban_valid(m.group("iban")):
                    if counts is not None:
                        counts.ibans += 1
                    return "[iban]"
            elif nino_valid(m.group("nino")):
                if counts is not None:
                    counts.ninos += 1
                return "[nino]"
            return m.group(0)

        text = _UPPER_ID_RE.sub(_upper, text)
    if text.count(".") >= 3 and _IPV4_RE.search(text) is not None:

        def _ipv4(m: re.Match[str]) -> str:
            if not ipv4_valid(m.group(0)):
                return m.group(0)
            if counts is not None:
                counts.text_ips += 1
            return "[ip]"

        text = _IPV4_RE.sub(_ipv4, text)
    return text


def _card_inside(candidate: str, counts: MaskCounts | None) -> str:
    """Cards grouped inside a longer digit run (``+1 415 4111 1111 1111 1111``): the regex took
    the whole run, so every window of whole groups with 13-19 digits is Luhn-checked and the union
    of the valid ones is masked (over-masking a neighbour beats leaving part of a card)."""
    groups = re.split(r"([ -])", candidate)  # digits, separator, digits, ...
    parts = groups[0::2]
    covered = [False] * len(parts)
    for start in range(len(parts)):
        digits = ""
        for end in range(start, len(parts)):
            digits += parts[end]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_valid(digits):
                covered[start : end + 1] = [True] * (end + 1 - start)
    if not any(covered):
        return candidate
    out: list[str] = []
    for i, part in enumerate(parts):
        if covered[i]:
            if i == 0 or not covered[i - 1]:
                out.append("[card]")
                if counts is not None:
                    counts.cards += 1
        else:
            out.append(part)
        if i < len(parts) - 1 and not (covered[i] and covered[i + 1]):
            out.append(groups[2 * i + 1])
    return "".join(out)


def mask_text(text: str, counts: MaskCounts | None = None) -> str:
    """Mask emails, IP addresses, national ids (US SSN, IBAN, UK NINO), Luhn-valid card numbers
    and phone numbers inside free text."""
    if len(text) < 7:
        return text
    if "@" in text:
        masked, n = EMAIL_RE.subn("[email]", text)
        if n:
            text = masked
            if counts is not None:
                counts.emails += n
    if _DIGIT_RE.search(text) is None:
        return text
    if text.count(":") >= 2:
        text = _mask_ipv6(text, counts)
    text = _mask_ids(text, counts)
    if _CARD_RE.search(text) is not None:

        def _card(m: re.Match[str]) -> str:
            candidate = m.group(0)
            digits = candidate.replace(" ", "").replace("-", "")
            if len(digits) <= 19 and luhn_valid(digits):
                if counts is not None:
                    counts.cards += 1
                return "[card]"
            return _card_inside(candidate, counts)

        masked, n = _CARD_RE.subn(_card, text)
        if n and masked != text:
            text = masked
    if _PHONE_RE.search(text) is not None:
        text, n = _PHONE_RE.subn("[phone]", text)
        if counts is not None:
            counts.phones += n
    return text


def mask_value(value: Any, counts: MaskCounts | None = None) -> Any:
    """Deep-scan a JSON value, masking free text in every string (dict keys are left alone).

    Copy-on-write: containers in which nothing was masked are returned as they are.
    """
    t = type(value)
    if t is str:
        return mask_text(value, counts) if len(value) >= 7 else value
    if t is dict:
        return _mask_dict(value, counts)
    if t is list:
        return _mask_list(value, counts)
    return value


def _mask_dict(d: dict[str, Any], counts: MaskCounts | None) -> dict[str, Any]:
    out: dict[str, Any] | None = None
    for k, v in d.items():
        t = type(v)
        if t is str:
            if len(v) < 7:
                continue
            new = mask_text(v, counts)
        elif t is dict:
            new = _mask_dict(v, counts)
        elif t is list:
            new = _mask_list(v, counts)
        else:
            continue
        if new is not v:
            if out is None:
                out = dict(d)
            out[k] = new
    return d if out is None else out


def _mask_list(items: list[Any], counts: MaskCounts | None) -> list[Any]:
    out: list[Any] | None = None
    for i, v in enumerate(items):
        new = mask_value(v, counts)
        if new is not v:
            if out is None:
                out = list(items)
            out[i] = new
    return items if out is None else out


# ---- messages ----------------------------------------------------------------------------------


def _apply_rules(
    obj: dict[str, Any], rules: dict[str, Any], key: bytes, counts: MaskCounts, where: str
) -> dict[str, Any]:
    """An object with its policy fields pseudonymized/dropped/truncated, the rest scanned."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        rule = rules.get(k)
        if rule is None:
            out[k] = mask_value(v, counts)
        elif rule is PSEUDONYMIZE:
            if v is None or v == "":
                out[k] = v
                continue
            out[k] = pseudonymize(v, key)
            counts.pseudonymized += 1
            fname = f"{where}.{k}"
            counts.by_field[fname] = counts.by_field.get(fname, 0) + 1
        elif rule is DROP:
            if v is not None:
                counts.dropped += 1
                fname = f"{where}.{k}"
                counts.by_field[fname] = counts.by_field.get(fname, 0) + 1
        elif rule is TRUNCATE:
            truncated = truncate_ip(v) if isinstance(v, str) else None
            if truncated != v:
                counts.ips += 1
            out[k] = truncated
        elif rule is KEEP:
            out[k] = v
        elif isinstance(v, dict):  # nested rules for an object field
            out[k] = _apply_rules(v, rule, key, counts, f"{where}.{k}")
        elif v is None or v == "":
            out[k] = v
        else:  # an object field sent flat (e.g. address as one string): pseudonymize it whole
            out[k] = pseudonymize(v, key)
            counts.pseudonymized += 1
    return out


def _mask_traits(
    traits: Any, key: bytes, counts: MaskCounts, where: str, policy: FieldPolicy
) -> Any:
    if not isinstance(traits, dict):
        return mask_value(traits, counts)
    return _apply_rules(traits, policy.traits, key, counts, where)


def mask_context(
    context: Any, key: bytes, counts: MaskCounts, policy: FieldPolicy | None = None
) -> Any:
    """Mask a Segment ``context`` object: traits and context fields per policy, text scanned."""
    if not isinstance(context, dict):
        return mask_value(context, counts)
    return _apply_rules(context, (policy or DEFAULT_POLICY).context, key, counts, "context")


def mask_message(
    message: dict[str, Any],
    key: bytes,
    counts: MaskCounts | None = None,
    policy: FieldPolicy | None = None,
) -> tuple[dict[str, Any], MaskCounts]:
    """A masked copy of one Segment message (any shape; the input is not modified).

    Unchanged nested containers may be shared with the input. ``counts`` accumulates if given.
    """
    if counts is None:
        counts = MaskCounts()
    if policy is None:
        policy = DEFAULT_POLICY
    out: dict[str, Any] = {}
    for k, v in message.items():
        if k == "traits":
            out[k] = _mask_traits(v, key, counts, "traits", policy)
        elif k == "context":
            out[k] = mask_context(v, key, counts, policy)
        elif k in IDENTITY_FIELDS:
            if isinstance(v, str) and "@" in v and _EMAIL_FULL_RE.match(v):
                out[k] = pseudonymize(v, key)
                counts.pseudonymized += 1
            elif isinstance(v, str):
                out[k] = v  # ids are kept (they are the join keys), but never an email in clear
            else:
                out[k] = mask_value(v, counts)
        elif k in _STRUCTURAL_FIELDS and (
            v is None or isinstance(v, int | float | bool) or (isinstance(v, str) and "@" not in v)
        ):
            out[k] = v
        else:
            out[k] = mask_value(v, counts)
    return out, counts


def key_bytes(pii_hmac_key: str) -> bytes:
    return pii_hmac_key.encode()


@dataclass(frozen=True, slots=True)
class Keyring:
    """The current pseudonymization key and the previous ones (newest first)."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    @classmethod
    def from_settings(cls, settings: Any) -> Keyring:
        return cls(
            key_bytes(settings.pii_hmac_key),
            tuple(key_bytes(k) for k in settings.pii_hmac_previous_keys),
        )

    @property
    def keys(self) -> tuple[bytes, ...]:
        return (self.current, *self.previous)

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    @property
    def previous_ids(self) -> list[str]:
        return [key_id(k) for k in self.previous]

    def tokens_for(self, value: Any) -> list[str]:
        """The value's token under every key, current first (what an erasure searches for)."""
        return [pseudonymize(value, k) for k in self.keys]

    def knows(self, token: str) -> bool:
        """Whether a token was made by one of these keys."""
        return token_key_id(token) in {key_id(k) for k in self.keys}
