"""Alert rules: the YAML file that says what to watch, how bad it is and whom to tell.

A rules file has three sections (reference and example: ``docs/alerting.md``)::

    defaults:  {channels: [...], escalate_after: 30m, escalate_to: [...], owner: ...}
    channels:  {<name>: {type: email|slack|webhook, ...}}   # email, slack, webhook are built in
    rules:     [{name, source: {kind: check|run_failure|freshness|metric, ...}, severity,
                 channels, escalate_after, escalate_to, owner, description}]

Each rule's ``source`` is one of the :data:`Source` kinds; a later kind (an anomaly-detection asset,
a quality-score mart) plugs in as one more model in that union plus an evaluator in ``sources``.
Loading validates everything pydantic can see (names, severities, durations, channel references,
conditions); :func:`validate_against` then checks the names that only the Dagster definitions know
(asset checks, assets, jobs, marts). Both raise :class:`AlertRulesError`, which lists every problem
with the rule it belongs to and what to write instead.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

DEFAULT_RULES_PATH = Path(__file__).resolve().parents[1] / "alert_rules.yaml"
SEVERITIES = ("info", "warning", "error", "critical")
BUILTIN_CHANNELS = ("email", "slack", "webhook")

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


class AlertRulesError(ValueError):
    """The rules file cannot be used; the message lists each problem and how to fix it."""


def parse_duration(value: Any) -> dt.timedelta:
    """``"90s"``, ``"30m"``, ``"2h"``, ``"1d"``, ``"1w"``, ``"1h30m"`` (or a timedelta) → timedelta."""
    if isinstance(value, dt.timedelta):
        return value
    text = str(value).strip().lower().replace(" ", "")
    if not text or _DURATION_PART.sub("", text) or isinstance(value, bool | int | float):
        raise ValueError(
            f"bad duration {value!r}: write a number and a unit (s, m, h, d, w), "
            "e.g. 90s, 30m, 2h, 1d or 1h30m"
        )
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"bad duration {value!r}: it must be longer than 0")
    return dt.timedelta(seconds=seconds)


def format_duration(value: dt.timedelta) -> str:
    """The inverse of :func:`parse_duration`: 5400 s → ``1h30m``."""
    seconds, parts = int(value.total_seconds()), []
    for unit in ("d", "h", "m", "s"):
        count, seconds = divmod(seconds, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


Duration = Annotated[dt.timedelta, BeforeValidator(parse_duration)]
Severity = Literal["info", "warning", "error", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- channels -----------------------------------------------------------------------------------
class ChannelConfig(_Strict):
    """A named channel. Secrets never live in this file: a Slack/webhook URL comes from the
    settings (``PULSE_ALERT_SLACK_WEBHOOK_URL`` / ``PULSE_ALERT_WEBHOOK_URL``) or from the
    environment variable named by ``url_env``; the SMTP password from ``PULSE_SMTP_PASSWORD``."""

    type: Literal["email", "slack", "webhook"]
    # email: recipients and sender (default: PULSE_ALERT_EMAIL_TO / _FROM), SMTP server override
    to: list[str] | None = None
    sender: str | None = Field(default=None, alias="from")
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    # slack / webhook: the environment variable that holds the URL
    url_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")

    @model_validator(mode="after")
    def _fields_fit_the_type(self) -> ChannelConfig:
        email_only = {"to": self.to, "from": self.sender, "smtp_host": self.smtp_host}
        email_only["smtp_port"] = self.smtp_port
        if self.type != "email" and any(v is not None for v in email_only.values()):
            used = ", ".join(k for k, v in email_only.items() if v is not None)
            raise ValueError(f"{used} only apply to email channels, not {self.type}")
        if self.type == "email" and self.url_env is not None:
            raise ValueError("url_env applies to slack and webhook channels, not email")
        if self.to is not None and (not self.to or any("@" not in a for a in self.to)):
            raise ValueError(f"to must list email addresses, got {self.to}")
        return self


# ---- sources ------------------------------------------------------------------------------------
class CheckSource(_Strict):
    """Failed evaluations of Dagster asset checks (GX suites, dbt tests, blocking checks).
    Without ``asset``/``check`` it matches every check; the alert's target is ``asset:check``."""

    kind: Literal["check"]
    asset: str | None = None
    check: str | None = None

    def matches(self, asset_key: str, check_name: str) -> bool:
        return (self.asset in (None, asset_key)) and (self.check in (None, check_name))


class RunFailureSource(_Strict):
    """Failed Dagster runs, of the listed jobs or of any job; the target is the job name."""

    kind: Literal["run_failure"]
    jobs: list[str] = []

    def matches(self, job_name: str) -> bool:
        return not self.jobs or job_name in self.jobs


class FreshnessSource(_Strict):
    """Assets whose last materialization is older than their freshness policy (warn window →
    warning, fail window → the rule's severity) or than ``max_age``. Without ``assets`` it watches
    every asset that has a freshness policy. Never-materialized assets are not stale (nothing was
    built yet: a failing run alerts instead)."""

    kind: Literal["freshness"]
    assets: list[str] = []
    max_age: Duration | None = None


Condition = Literal["<", "<=", ">", ">=", "==", "!=", "anomaly"]


class MetricSource(_Strict):
    """A number read from a published gold mart (``mart``, via ``lake.gold.read_mart``) or from a
    platform table of the lake (``table``: ``system/<name>``, e.g. the health probes or the
    system mart), optionally narrowed to rows whose columns equal ``where``'s values.

    ``aggregate`` of ``column`` over the rows of the last ``window`` (counted back from the newest
    ``time_column`` value), per ``group_by`` value if set, compared with ``threshold``; ``last``
    is the value at the newest time. ``condition: anomaly`` instead compares the newest period's
    total with the median of the earlier periods in the window (robust z-score on the median
    absolute deviation, |z| > ``sensitivity``; ``direction`` limits it to drops or spikes)."""

    kind: Literal["metric"]
    mart: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]+$")
    table: str | None = Field(default=None, pattern=r"^system/[a-z0-9_]+$")
    where: dict[str, str | int | float | bool] = {}
    column: str
    aggregate: Literal["last", "sum", "mean", "min", "max", "count"] = "last"
    time_column: str | None = None
    window: Duration | None = None
    group_by: str | None = None
    condition: Condition
    threshold: float | None = None
    sensitivity: float = Field(default=3.5, gt=0)
    direction: Literal["both", "up", "down"] = "both"
    min_history: int = Field(default=7, ge=3)

    @model_validator(mode="after")
    def _consistent(self) -> MetricSource:
        if (self.mart is None) == (self.table is None):
            raise ValueError(
                "a metric reads exactly one of mart (a gold mart) or table (system/...)"
            )
        if self.condition == "anomaly":
            if self.threshold is not None:
                raise ValueError("condition anomaly takes no threshold (use sensitivity)")
            if self.time_column is None:
                raise ValueError("condition anomaly needs time_column (the series' time axis)")
        elif self.threshold is None:
            raise ValueError(f"condition {self.condition!r} needs a threshold")
        if self.aggregate == "last" and self.time_column is None:
            raise ValueError("aggregate last needs time_column (which row is the newest)")
        if self.window is not None and self.time_column is None:
            raise ValueError("window needs time_column (what the window is counted on)")
        return self

    @property
    def dataset(self) -> str:
        """The mart or table name, as shown in messages and alert targets."""
        return self.mart or self.table or ""

    def breached(self, value: float) -> bool:
        assert self.threshold is not None and self.condition != "anomaly"
        return {
            "<": value < self.threshold,
            "<=": value <= self.threshold,
            ">": value > self.threshold,
            ">=": value >= self.threshold,
            "==": value == self.threshold,
            "!=": value != self.threshold,
        }[self.condition]


Source = Annotated[
    CheckSource | RunFailureSource | FreshnessSource | MetricSource, Field(discriminator="kind")
]
SOURCE_KINDS = ("check", "run_failure", "freshness", "metric")


# ---- rules --------------------------------------------------------------------------------------
class Defaults(_Strict):
    channels: list[str] = []
    escalate_after: Duration | None = None
    escalate_to: list[str] = []
    owner: str | None = None


class Rule(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")
    description: str = ""
    source: Source
    # None: the source decides (a check's own severity; error for runs and freshness, warning
    # for metrics)
    severity: Severity | None = None
    channels: list[str] | None = None
    escalate_after: Duration | None = None
    escalate_to: list[str] | None = None
    owner: str | None = None


class RuleSet(_Strict):
    defaults: Defaults = Defaults()
    channels: dict[str, ChannelConfig] = {}
    rules: list[Rule] = []
    path: str | None = None  # where it was loaded from (messages)

    @model_validator(mode="after")
    def _references(self) -> RuleSet:
        problems = []
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                problems.append(f"rule {rule.name!r}: the name is used twice; names must be unique")
            seen.add(rule.name)
        known = sorted({*BUILTIN_CHANNELS, *self.channels})
        for name in self.channels:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name):
                problems.append(f"channel {name!r}: use lowercase letters, digits, - and _")
        for owner, names in [
            ("defaults.channels", self.defaults.channels),
            ("defaults.escalate_to", self.defaults.escalate_to),
            *[(f"rule {r.name!r}: channels", r.channels or []) for r in self.rules],
            *[(f"rule {r.name!r}: escalate_to", r.escalate_to or []) for r in self.rules],
        ]:
            problems += [
                f"{owner}: unknown channel {n!r} (known: {', '.join(known)}; "
                "define it under `channels:`)"
                for n in names
                if n not in known
            ]
        for rule in self.rules:
            if bool(self.escalate_after(rule)) != bool(self.escalate_to(rule)):
                problems.append(
                    f"rule {rule.name!r}: escalation needs both escalate_after (how long unacknowledged)"
                    " and escalate_to (which channels), here or under defaults"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # effective values: the rule's own, else the defaults
    def channels_of(self, rule: Rule) -> list[str]:
        return list(rule.channels if rule.channels is not None else self.defaults.channels)

    def escalate_to(self, rule: Rule) -> list[str]:
        return list(rule.escalate_to if rule.escalate_to is not None else self.defaults.escalate_to)

    def escalate_after(self, rule: Rule) -> dt.timedelta | None:
        return rule.escalate_after or self.defaults.escalate_after

    def owner_of(self, rule: Rule) -> str | None:
        return rule.owner or self.defaults.owner

    def of_kind(self, kind: str) -> list[Rule]:
        return [r for r in self.rules if r.source.kind == kind]

    def channel(self, name: str) -> ChannelConfig:
        """The config of a channel by name (a built-in name without config: settings only)."""
        if name in self.channels:
            return self.channels[name]
        if name in BUILTIN_CHANNELS:
            return ChannelConfig(type=name)
        raise KeyError(name)


def _where(loc: tuple, data: Any) -> str:
    """``rules.2.source.kind`` → ``rule 'dau-drop' (rules[2]): source.kind``."""
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] == "rules" and parts[1].isdigit():
        index = int(parts[1])
        name = None
        if isinstance(data, dict) and isinstance(data.get("rules"), list):
            rules = data["rules"]
            if index < len(rules) and isinstance(rules[index], dict):
                name = rules[index].get("name")
        rest = ".".join(p for p in parts[2:] if p not in SOURCE_KINDS) or "(the rule)"
        label = f"rule {name!r} (rules[{index}])" if name else f"rules[{index}]"
        return f"{label}: {rest}"
    return ".".join(parts) or "(top level)"


def parse_rules(data: Any, origin: str = "<rules>") -> RuleSet:
    """Validate already-parsed YAML; :class:`AlertRulesError` lists every problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AlertRulesError(
            f"{origin}: expected a mapping with defaults/channels/rules, got {type(data).__name__}"
        )
    try:
        return RuleSet.model_validate({**data, "path": origin})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown field (check its spelling in docs/alerting.md)"
            elif err["type"] == "union_tag_invalid":
                message = f"unknown source kind: use one of {', '.join(SOURCE_KINDS)}"
            elif err["type"] == "union_tag_not_found":
                message = f"source needs a kind: one of {', '.join(SOURCE_KINDS)}"
            if err["loc"]:
                lines.append(f"  - {_where(err['loc'], data)}: {message}")
            else:  # cross-field problems found by RuleSet, one per line, already located
                lines += [f"  - {line}" for line in message.splitlines()]
        raise AlertRulesError(f"invalid alert rules in {origin}:\n" + "\n".join(lines)) from None


def load_rules(path: Path | str | None = None) -> RuleSet:
    """Read and validate a rules file (default: the packaged ``orchestration/alert_rules.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_RULES_PATH
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise AlertRulesError(
            f"alert rules file {path} does not exist: fix PULSE_ALERT_RULES_PATH or unset it to "
            f"use the default {DEFAULT_RULES_PATH}"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AlertRulesError(f"alert rules file {path} is not valid YAML: {exc}") from None
    return parse_rules(data, str(path))


# ---- validation against the Dagster definitions --------------------------------------------------
@dataclass(frozen=True)
class Catalog:
    """The names a rules file may refer to, read from the Dagster definitions."""

    assets: frozenset[str]
    checks: frozenset[tuple[str, str]]  # (asset key, check name)
    jobs: frozenset[str]
    fresh_assets: frozenset[str] = field(default_factory=frozenset)  # with a freshness policy


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"no {kind} {name!r} in the Dagster definitions{hint}"


def validate_against(rules: RuleSet, catalog: Catalog) -> None:
    """Every check, asset, job and mart a rule names exists; raises :class:`AlertRulesError`."""
    problems = []
    check_names = {c for _, c in catalog.checks}
    for rule in rules.rules:
        src = rule.source
        where = f"rule {rule.name!r}"
        if isinstance(src, CheckSource):
            if src.asset is not None and src.asset not in catalog.assets:
                problems.append(f"{where}: {_unknown('asset', src.asset, catalog.assets)}")
            elif src.check is not None and src.asset is not None:
                if (src.asset, src.check) not in catalog.checks:
                    on_asset = sorted(c for a, c in catalog.checks if a == src.asset)
                    problems.append(
                        f"{where}: no check {src.check!r} on asset {src.asset} in the Dagster "
                        f"definitions (its checks: {', '.join(on_asset[:10]) or 'none'})"
                    )
            elif src.check is not None and src.check not in check_names:
                problems.append(f"{where}: {_unknown('check', src.check, check_names)}")
        elif isinstance(src, RunFailureSource):
            problems += [
                f"{where}: {_unknown('job', j, catalog.jobs)}"
                for j in src.jobs
                if j not in catalog.jobs
            ]
        elif isinstance(src, FreshnessSource):
            for asset in src.assets:
                if asset not in catalog.assets:
                    problems.append(f"{where}: {_unknown('asset', asset, catalog.assets)}")
                elif src.max_age is None and asset not in catalog.fresh_assets:
                    problems.append(
                        f"{where}: asset {asset!r} has no freshness policy: set max_age"
                    )
        elif isinstance(src, MetricSource) and src.mart and src.mart not in catalog.assets:
            problems.append(f"{where}: {_unknown('mart', src.mart, catalog.assets)}")
    if problems:
        raise AlertRulesError(
            f"alert rules in {rules.path} do not match the Dagster definitions:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
