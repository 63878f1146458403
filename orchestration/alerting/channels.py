"""Delivery of one :class:`~orchestration.alerting.messages.Message` to one channel: email
(SMTP, ``smtplib``), Slack (incoming webhook, JSON POST) or a generic webhook (JSON POST).

Where a channel's settings come from: the channel's entry in the rules file first, else the
``PULSE_`` settings (``docs/alerting.md``). Secrets (the SMTP password, webhook URLs) come only
from the settings or the environment and never appear in errors: every failure is raised as a
:class:`DeliveryError` whose message has them redacted, because dispatch stores it in the history.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage

import httpx

from core.settings import Settings
from orchestration.alerting.messages import Message
from orchestration.alerting.rules import ChannelConfig


class DeliveryError(RuntimeError):
    """A message could not be delivered (server down, refused, misconfigured); retried later."""


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


def _send_email(config: ChannelConfig, message: Message, settings: Settings) -> None:
    recipients = config.to or settings.alert_email_recipients
    if not recipients:
        raise DeliveryError(
            "email channel has no recipients: set `to:` on the channel or PULSE_ALERT_EMAIL_TO"
        )
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = config.sender or settings.alert_email_from
    mail["To"] = ", ".join(recipients)
    mail["X-Pulse-Alert-Id"] = str(message.alert_id)
    mail.set_content(message.text)
    host = config.smtp_host or settings.smtp_host
    port = config.smtp_port or settings.smtp_port
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
    try:
        with smtplib.SMTP(host, port, timeout=settings.alert_delivery_timeout_seconds) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, password)
            refused = smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        detail = _redact(f"{type(exc).__name__}: {exc}", [password])
        raise DeliveryError(f"SMTP {host}:{port}: {detail}") from None
    if refused:
        raise DeliveryError(f"SMTP {host}:{port} refused recipients {sorted(refused)}")


def _webhook_url(config: ChannelConfig, settings: Settings, env: Mapping[str, str]) -> str:
    if config.url_env:
        # The URL is a secret: the rules file names the variable that holds it.
        url = env.get(config.url_env)
        if not url:
            raise DeliveryError(
                f"{config.type} channel: environment variable {config.url_env} is unset"
            )
        return url
    secret = (
        settings.alert_slack_webhook_url if config.type == "slack" else settings.alert_webhook_url
    )
    if secret is None:
        variable = (
            "PULSE_ALERT_SLACK_WEBHOOK_URL" if config.type == "slack" else "PULSE_ALERT_WEBHOOK_URL"
        )
        raise DeliveryError(f"{config.type} channel has no URL: set {variable} (or url_env)")
    return secret.get_secret_value()


def _post_json(url: str, payload: dict, settings: Settings, kind: str) -> None:
    try:
        response = httpx.post(url, json=payload, timeout=settings.alert_delivery_timeout_seconds)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{kind}: {type(exc).__name__}: {_redact(str(exc), [url])}") from None
    if response.status_code >= 300:
        body = _redact(response.text[:200], [url])
        raise DeliveryError(f"{kind}: HTTP {response.status_code} {body}".strip())


def deliver(
    config: ChannelConfig,
    message: Message,
    settings: Settings,
    env: Mapping[str, str] | None = None,
) -> None:
    """Send ``message`` over the channel; :class:`DeliveryError` if it did not arrive."""
    env = os.environ if env is None else env
    if config.type == "email":
        _send_email(config, message, settings)
    elif config.type == "slack":
        _post_json(_webhook_url(config, settings, env), message.slack_payload(), settings, "slack")
    else:
        _post_json(
            _webhook_url(config, settings, env), message.webhook_payload(), settings, "webhook"
        )
