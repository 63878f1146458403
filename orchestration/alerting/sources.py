"""Rule sources: turn what Dagster and the gold marts say into :class:`Occurrence` s.

One evaluator per source kind of ``rules.py``:

- ``check``: failed asset-check evaluations from the event log (newest ``limit`` per check);
  a check whose newest evaluation passed clears its alerts.
- ``run_failure``: a failed run (the run-failure sensor hands it over).
- ``freshness``: age of each asset's last materialization against its freshness policy.
- ``metric``: a number from a published mart (``metrics.evaluate``).

Event sources (check, run_failure) route each event to the first rule that matches it, in file
order; an event no rule matches is still stored, under ``unmatched-check`` / ``unmatched-run``
with the default channels, so a failure is never silent. Condition sources (freshness, metric)
evaluate every rule and report which targets are clear, so their alerts resolve by themselves.
A later source kind (anomaly-detection output, quality scores) adds one evaluator here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import dagster as dg
import polars as pl

from core.settings import Settings
from orchestration.alerting.metrics import MetricError, evaluate
from orchestration.alerting.rules import (
    Catalog,
    CheckSource,
    FreshnessSource,
    MetricSource,
    Rule,
    RuleSet,
    RunFailureSource,
)
from orchestration.alerting.store import Occurrence

log = logging.getLogger("pulse.alerts")

UNMATCHED_CHECK = "unmatched-check"
UNMATCHED_RUN = "unmatched-run"


def catalog_of(repository: dg.RepositoryDefinition) -> Catalog:
    """The asset, check and job names of loaded definitions (for ``validate_against``)."""
    graph = repository.asset_graph
    keys = list(graph.get_all_asset_keys())
    return Catalog(
        assets=frozenset(k.to_user_string() for k in keys),
        checks=frozenset((k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys),
        jobs=frozenset(j.name for j in repository.get_all_jobs() if not j.name.startswith("__")),
        fresh_assets=frozenset(
            k.to_user_string() for k in keys if graph.get(k).freshness_policy is not None
        ),
    )


def _occurrence(rules: RuleSet, rule: Rule | None, name: str, **fields) -> Occurrence:
    """An occurrence carrying the rule's (or the defaults') owner, channels and escalation."""
    if rule is None:
        d = rules.defaults
        return Occurrence(
            rule=name,
            owner=d.owner,
            channels=d.channels,
            escalate_to=d.escalate_to if d.escalate_after else (),
            escalate_after=d.escalate_after if d.escalate_to else None,
            **fields,
        )
    return Occurrence(
        rule=rule.name,
        owner=rules.owner_of(rule),
        channels=rules.channels_of(rule),
        escalate_to=rules.escalate_to(rule),
        escalate_after=rules.escalate_after(rule),
        **fields,
    )


# ---- asset checks -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckFailure:
    """One failed asset-check evaluation, as read from the Dagster event log."""

    record_id: int  # the evaluation's storage id: increases with time
    asset_key: str
    check_name: str
    run_id: str
    severity: str  # warning | error
    description: str
    at: dt.datetime | None = None

    @property
    def dedupe_key(self) -> str:
        return f"check:{self.asset_key}:{self.check_name}:{self.record_id}"

    @property
    def target(self) -> str:
        return f"{self.asset_key}:{self.check_name}"


@dataclass
class CheckScan:
    failures: list[CheckFailure] = field(default_factory=list)
    passing: list[str] = field(default_factory=list)  # targets whose newest evaluation passed


def new_failures(failures: Iterable[CheckFailure], cursor: int) -> tuple[list[CheckFailure], int]:
    """Failures newer than ``cursor`` (oldest first) and the cursor to store next."""
    fresh = sorted((f for f in failures if f.record_id > cursor), key=lambda f: f.record_id)
    return fresh, max([cursor, *(f.record_id for f in fresh)])


def scan_checks(
    instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey], limit: int = 20
) -> CheckScan:
    """The latest failed evaluations of each check (newest ``limit`` per check), and the checks
    whose newest evaluation passed."""
    scan = CheckScan()
    storage = instance.event_log_storage
    for key in check_keys:
        records = storage.get_asset_check_execution_history(key, limit=limit)  # newest first
        done = [r for r in records if r.status.value != "PLANNED"]  # PLANNED: not evaluated yet
        target = f"{key.asset_key.to_user_string()}:{key.name}"
        if done and done[0].evaluation is not None and done[0].evaluation.passed:
            scan.passing.append(target)
        for record in done:
            evaluation = record.evaluation
            if record.status.value != "FAILED" or evaluation is None or evaluation.passed:
                continue
            scan.failures.append(
                CheckFailure(
                    record_id=record.id,
                    asset_key=key.asset_key.to_user_string(),
                    check_name=key.name,
                    run_id=record.run_id,
                    severity="warning"
                    if evaluation.severity == dg.AssetCheckSeverity.WARN
                    else "error",
                    description=evaluation.description or "",
                    at=dt.datetime.fromtimestamp(record.create_timestamp, dt.UTC)
                    if record.create_timestamp
                    else None,
                )
            )
    return scan


def check_occurrence(rules: RuleSet, failure: CheckFailure, now: dt.datetime) -> Occurrence:
    rule = next(
        (
            r
            for r in rules.of_kind("check")
            if isinstance(r.source, CheckSource)
            and r.source.matches(failure.asset_key, failure.check_name)
        ),
        None,
    )
    return _occurrence(
        rules,
        rule,
        UNMATCHED_CHECK,
        target=failure.target,
        severity=(rule.severity if rule and rule.severity else failure.severity),
        source="asset_check",
        message=f"check {failure.check_name} failed on {failure.asset_key}: "
        f"{failure.description or 'no description'}",
        since=failure.at or now,
        key=failure.dedupe_key,
        asset_key=failure.asset_key,
        check_name=failure.check_name,
        run_id=failure.run_id,
    )


def check_rule_names(rules: RuleSet) -> list[str]:
    return [r.name for r in rules.of_kind("check")] + [UNMATCHED_CHECK]


# ---- run failures -------------------------------------------------------------------------------
def run_failure_occurrence(
    rules: RuleSet, run_id: str, job_name: str, error: str, now: dt.datetime
) -> Occurrence:
    rule = next(
        (
            r
            for r in rules.of_kind("run_failure")
            if isinstance(r.source, RunFailureSource) and r.source.matches(job_name)
        ),
        None,
    )
    return _occurrence(
        rules,
        rule,
        UNMATCHED_RUN,
        target=job_name,
        severity=(rule.severity if rule and rule.severity else "error"),
        source="run_failure",
        message=f"run {run_id[:8]} of job {job_name} failed: {error}"[:2000],
        since=now,
        key=f"run:{run_id}",
        run_id=run_id,
    )


# ---- freshness ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FreshnessWindows:
    fail: dt.timedelta | None
    warn: dt.timedelta | None


def freshness_windows(repository: dg.RepositoryDefinition) -> dict[str, FreshnessWindows]:
    """The freshness policy windows of every asset that has one."""
    graph = repository.asset_graph
    windows = {}
    for key in graph.get_all_asset_keys():
        policy = graph.get(key).freshness_policy
        fail = getattr(policy, "fail_window", None)
        if policy is None or fail is None:
            continue
        warn = getattr(policy, "warn_window", None)
        windows[key.to_user_string()] = FreshnessWindows(
            fail=fail.to_timedelta(), warn=warn.to_timedelta() if warn else None
        )
    return windows


def _age(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


@dataclass
class ConditionScan:
    """Occurrences of condition rules, and per rule the targets found clear."""

    occurrences: list[Occurrence] = field(default_factory=list)
    cleared: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def scan_freshness(
    instance: dg.DagsterInstance,
    rules: RuleSet,
    windows: dict[str, FreshnessWindows],
    now: dt.datetime,
) -> ConditionScan:
    scan = ConditionScan()
    for rule in rules.of_kind("freshness"):
        src = rule.source
        assert isinstance(src, FreshnessSource)
        assets = src.assets or sorted(windows)
        cleared = scan.cleared.setdefault(rule.name, [])
        for asset in assets:
            policy = windows.get(asset, FreshnessWindows(None, None))
            fail = src.max_age or policy.fail
            warn = None if src.max_age else policy.warn
            if fail is None:
                scan.errors.append(f"rule {rule.name}: {asset} has no freshness policy or max_age")
                continue
            entry = instance.get_latest_materialization_event(dg.AssetKey.from_user_string(asset))
            if entry is None:  # never built: not stale (a failed run alerts instead)
                continue
            last = dt.datetime.fromtimestamp(entry.timestamp, dt.UTC)
            age = now - last
            if age > fail:
                level, since, allowed = "fail", last + fail, fail
                severity = rule.severity or "error"
            elif warn is not None and age > warn:
                level, since, allowed = "warn", last + warn, warn
                severity = "warning"
            else:
                cleared.append(asset)
                continue
            scan.occurrences.append(
                _occurrence(
                    rules,
                    rule,
                    rule.name,
                    target=asset,
                    severity=severity,
                    source="freshness",
                    message=f"{asset} is stale: last materialized {last:%Y-%m-%d %H:%M} UTC, "
                    f"{_age(age)} ago (allowed: {_age(allowed)})",
                    since=since,
                    key=f"freshness:{rule.name}:{asset}:{entry.timestamp}:{level}",
                    asset_key=asset,
                    run_id=entry.run_id,
                )
            )
    return scan


# ---- metrics ------------------------------------------------------------------------------------
def scan_metrics(settings: Settings, rules: RuleSet, now: dt.datetime) -> ConditionScan:
    """Evaluate metric rules on the current gold publication (all marts from one publication)."""
    from lake import gold

    scan = ConditionScan()
    metric_rules = rules.of_kind("metric")
    on_tables = [r for r in metric_rules if r.source.table is not None]
    on_marts = [r for r in metric_rules if r.source.mart is not None]
    for rule in on_tables:  # platform tables: no publication needed
        _scan_metric_rule(settings, rules, rule, None, now, scan)
    if not on_marts:
        return scan
    try:
        with gold.pinned(settings) as publication:
            for rule in on_marts:
                _scan_metric_rule(settings, rules, rule, publication.id, now, scan)
    except gold.MartNotPublished as exc:
        scan.errors.append(f"no metric evaluated: {exc}")
    return scan


def _read_table(settings: Settings, table: str) -> tuple[pl.DataFrame, str]:
    """A lake table and its Delta version (the version names what was evaluated)."""
    from deltalake import DeltaTable

    path = settings.table_path(*table.split("/", 1))
    if not DeltaTable.is_deltatable(str(path)):
        raise MetricError(f"{table} does not exist yet at {path}")
    delta = DeltaTable(str(path))
    return pl.from_arrow(delta.to_pyarrow_table()), f"{table}@v{delta.version()}"


def _scan_metric_rule(
    settings: Settings,
    rules: RuleSet,
    rule: Rule,
    publication_id: str | None,
    now: dt.datetime,
    scan: ConditionScan,
) -> None:
    from lake import gold

    src = rule.source
    assert isinstance(src, MetricSource)
    try:
        if src.mart is not None:
            frame, evaluated = gold.read_mart(settings, src.mart), f"publication {publication_id}"
        else:
            frame, evaluated = _read_table(settings, src.dataset)
        readings = evaluate(frame, src)
    except (MetricError, gold.MartNotPublished) as exc:
        scan.errors.append(f"rule {rule.name}: {exc}")
        return
    cleared = scan.cleared.setdefault(rule.name, [])
    for reading in readings:
        target = f"{src.dataset}.{src.column}" + (
            f"[{src.group_by}={reading.group}]" if reading.group is not None else ""
        )
        if not reading.breached:
            cleared.append(target)
            continue
        what = "anomaly in" if src.condition == "anomaly" else "threshold breached on"
        scan.occurrences.append(
            _occurrence(
                rules,
                rule,
                rule.name,
                target=target,
                severity=rule.severity or "warning",
                source="metric",
                message=f"{what} {target}: {reading.detail} ({evaluated})",
                since=now,
                key=f"metric:{rule.name}:{target}:{evaluated}",
                asset_key=src.dataset,
            )
        )
