"""The PII field policy: which trait and context fields are PII and what happens to each.

A policy is configuration, like the settings: the built-in :data:`DEFAULT_POLICY`, or a YAML/JSON
file named by ``PULSE_PII_POLICY_PATH`` that :func:`load_policy` validates (the settings call it,
so a bad file stops start-up with the reason). Actions: ``pseudonymize``, ``drop``, ``truncate``,
``keep``, or a mapping of rules for the fields of an object. Applying a policy to messages is
:mod:`lake.privacy`'s job; docs/privacy.md explains each choice of the built-in policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

PSEUDONYMIZE = "pseudonymize"
DROP = "drop"
TRUNCATE = "truncate"
KEEP = "keep"
POLICY_ACTIONS = (PSEUDONYMIZE, DROP, TRUNCATE, KEEP)

# The built-in policy (docs/privacy.md explains each choice). Names follow the Segment spec
# (camelCase) and its common snake_case spellings. Street and postal code identify a household:
# dropped. City, state and country are coarse geography analysts need: kept (free-text scanned).
DEFAULT_POLICY_SPEC: dict[str, Any] = {
    "traits": {
        "email": PSEUDONYMIZE,
        "phone": PSEUDONYMIZE,
        "name": PSEUDONYMIZE,
        "first_name": PSEUDONYMIZE,
        "firstName": PSEUDONYMIZE,
        "last_name": PSEUDONYMIZE,
        "lastName": PSEUDONYMIZE,
        "username": PSEUDONYMIZE,
        "birthday": DROP,
        "street": DROP,
        "postal_code": DROP,
        "postalCode": DROP,
        "zip": DROP,
        "address": {
            "street": DROP,
            "line1": DROP,
            "line2": DROP,
            "postal_code": DROP,
            "postalCode": DROP,
            "zip": DROP,
        },
    },
    "context": {"ip": TRUNCATE},
}


class PolicyError(ValueError):
    """A PII field policy that cannot be used; the message says where and how to fix it."""


@dataclass(frozen=True, slots=True)
class FieldPolicy:
    """Compiled rules: field name → action, or a nested dict of rules for an object field."""

    traits: dict[str, Any]
    context: dict[str, Any]

    @classmethod
    def from_spec(cls, spec: Any, origin: str = "PII policy") -> FieldPolicy:
        """Validate a parsed policy document (``{"traits": {...}, "context": {...}}``)."""
        if not isinstance(spec, dict):
            raise PolicyError(f"{origin}: expected a mapping with 'traits' and/or 'context'")
        unknown = set(spec) - {"traits", "context"}
        if unknown:
            raise PolicyError(
                f"{origin}: unknown section(s) {sorted(unknown)}; use 'traits' (applies to "
                "traits and context.traits) and 'context'"
            )
        traits = _compile_rules(spec.get("traits") or {}, f"{origin}: traits")
        context = _compile_rules(spec.get("context") or {}, f"{origin}: context")
        if "traits" in context:
            raise PolicyError(
                f"{origin}: context.traits follows the 'traits' section; remove it from 'context'"
            )
        if traits:
            context["traits"] = traits  # nested rules: context.traits gets the trait rules
        return cls(traits=traits, context=context)


def _compile_rules(rules: Any, where: str) -> dict[str, Any]:
    if not isinstance(rules, dict):
        raise PolicyError(f"{where}: expected a mapping of field name to action")
    out: dict[str, Any] = {}
    for name, action in rules.items():
        if not isinstance(name, str) or not name:
            raise PolicyError(f"{where}: field names must be non-empty strings, got {name!r}")
        if isinstance(action, dict):
            out[name] = _compile_rules(action, f"{where}.{name}")
        elif action in POLICY_ACTIONS:
            out[name] = POLICY_ACTIONS[POLICY_ACTIONS.index(action)]  # the constant: `is` checks
        else:
            raise PolicyError(
                f"{where}.{name}: unknown action {action!r}; use one of {', '.join(POLICY_ACTIONS)}"
                " or a mapping of rules for the fields of an object"
            )
    return out


DEFAULT_POLICY = FieldPolicy.from_spec(DEFAULT_POLICY_SPEC, "built-in PII policy")


def load_policy(path: Path | str | None) -> FieldPolicy:
    """The policy in a YAML or JSON file (``None``: the built-in default); fails with a clear error."""
    if path is None:
        return DEFAULT_POLICY
    path = Path(path)
    origin = f"PII policy {path}"
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError(
            f"{origin}: cannot read it ({exc.strerror}); fix PULSE_PII_POLICY_PATH"
        ) from None
    import yaml  # JSON is YAML too; only loaded when a policy file is configured

    try:
        spec = orjson.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise PolicyError(f"{origin}: not valid {kind}: {exc}") from None
    return FieldPolicy.from_spec(spec, origin)
