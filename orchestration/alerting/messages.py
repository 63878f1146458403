"""What an alert says: what, where, since when, how bad, a link to the Dagster run or asset, and
how to acknowledge it. One :class:`Message` renders as an email (subject + text), a Slack
incoming-webhook payload and a generic webhook JSON document."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import quote

from orchestration.alerting.store import AlertView


def asset_url(base_url: str, asset_key: str) -> str:
    """Dagster UI page of an asset (``a/b`` keys are path segments)."""
    return f"{base_url.rstrip('/')}/assets/" + "/".join(quote(p) for p in asset_key.split("/"))


def run_url(base_url: str, run_id: str) -> str:
    return f"{base_url.rstrip('/')}/runs/{quote(run_id)}"


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _ago(value: dt.datetime | None, now: dt.datetime) -> str:
    if value is None:
        return ""
    minutes = int((now - value).total_seconds() // 60)
    if minutes < 1:
        return " (just now)"
    if minutes < 120:
        return f" ({minutes} min ago)"
    hours = minutes // 60
    return f" ({hours} h ago)" if hours < 48 else f" ({hours // 24} days ago)"


@dataclass(frozen=True)
class Message:
    alert_id: int
    escalation: bool
    severity: str
    rule: str | None
    what: str
    where: str
    since: dt.datetime
    last_seen: dt.datetime | None
    occurrences: int
    status: str
    owner: str | None
    link: str | None
    run_link: str | None
    now: dt.datetime

    @property
    def subject(self) -> str:
        prefix = "ESCALATED " if self.escalation else ""
        repeat = f" (x{self.occurrences})" if self.occurrences > 1 else ""
        return (
            f"[Pulse {prefix}{self.severity.upper()}] {self.rule or 'alert'}: {self.where}{repeat}"
        )

    def lines(self) -> list[tuple[str, str]]:
        rows = [
            ("What", self.what),
            ("Where", self.where),
            ("Since", _when(self.since) + _ago(self.since, self.now)),
            ("Severity", self.severity.upper()),
            ("Occurrences", f"{self.occurrences} (last seen {_when(self.last_seen)})"),
            ("Status", self.status),
        ]
        if self.owner:
            rows.append(("Owner", self.owner))
        if self.link:
            rows.append(("Link", self.link))
        if self.run_link and self.run_link != self.link:
            rows.append(("Run", self.run_link))
        rows.append(("Acknowledge", f"pulse alerts ack {self.alert_id}"))
        return rows

    @property
    def text(self) -> str:
        head = f"Alert #{self.alert_id}" + (
            " escalated: it has not been acknowledged." if self.escalation else "."
        )
        return "\n".join([head, "", *(f"{k}: {v}" for k, v in self.lines())]) + "\n"

    def slack_payload(self) -> dict:
        """Slack incoming webhook (``text`` is the notification; the block shows the fields)."""
        fields = "\n".join(
            f"*{k}:* <{v}|{v}>" if k in ("Link", "Run") else f"*{k}:* {v}" for k, v in self.lines()
        )
        return {
            "text": self.subject,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": self.subject[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": fields}},
            ],
        }

    def webhook_payload(self) -> dict:
        return {
            "alert_id": self.alert_id,
            "escalation": self.escalation,
            "severity": self.severity,
            "rule": self.rule,
            "what": self.what,
            "where": self.where,
            "since": self.since.astimezone(dt.UTC).isoformat(),
            "last_seen": self.last_seen.astimezone(dt.UTC).isoformat() if self.last_seen else None,
            "occurrences": self.occurrences,
            "status": self.status,
            "owner": self.owner,
            "link": self.link,
            "run_link": self.run_link,
            "subject": self.subject,
            "acknowledge": f"pulse alerts ack {self.alert_id}",
        }


def where_of(view: AlertView) -> str:
    a = view.alert
    if a.source == "metric" and view.target:
        return f"metric {view.target}" + (f" of mart {a.asset_key}" if a.asset_key else "")
    if a.asset_key and a.check_name:
        return f"check {a.check_name} on asset {a.asset_key}"
    if a.asset_key:
        return f"asset {a.asset_key}"
    if a.source == "run_failure" and view.target:
        return f"job {view.target}" + (f", run {a.dagster_run_id}" if a.dagster_run_id else "")
    return view.target or a.source


def build_message(
    view: AlertView, base_url: str, now: dt.datetime, escalation: bool = False
) -> Message:
    a = view.alert
    run_link = run_url(base_url, a.dagster_run_id) if a.dagster_run_id else None
    link = asset_url(base_url, a.asset_key) if a.asset_key else run_link
    return Message(
        alert_id=a.id,
        escalation=escalation,
        severity=a.severity,
        rule=view.rule,
        what=a.message,
        where=where_of(view),
        since=view.since or a.created_at,
        last_seen=view.last_seen,
        occurrences=view.occurrences,
        status=a.status,
        owner=view.owner,
        link=link,
        run_link=run_link,
        now=now,
    )
