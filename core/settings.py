"""The one settings object of Pulse.

Every knob is an environment variable prefixed ``PULSE_`` with an embedded default, read once by
:func:`get_settings` and passed down. Modules never call ``os.getenv`` themselves. All local state
lives under ``PULSE_DATA_DIR``::

    <data>/lake/<layer>/<table>   Delta tables (bronze) and published marts (gold)
    <data>/sim/                   the simulator's world and its ground truth
    <data>/warehouse/pulse.duckdb dbt's working database (one writer: never read by apps)
    <data>/dagster_home/          Dagster instance (SQLite storage)
    <data>/dbt/target/            Dagster's dbt invocations (last 30) and this data dir's dbt parse
    <data>/quality/               GX context, Data Docs site
    <data>/wal/                   the collector's write-ahead log
    <data>/reports/               generated reports (drift HTML, ...)
    <data>/pulse.db               app metadata (sources, alerts) in SQLite
    <data>/archive/               data archived by retention (unless PULSE_ARCHIVE_URI)
    <data>/secrets/               keys Pulse makes for itself (0600): the dashboards' write key, ...
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ARCHIVE_SCHEMES = ("file", "s3", "gs", "gcs", "az", "abfs", "abfss")


class SettingsError(ValueError):
    """A setting has a value Pulse cannot use; the message says which and how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PULSE_", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("./data"), description="Root of all local state.")

    # Service ports (all bound to host below).
    host: str = "127.0.0.1"
    collector_port: int = Field(default=8080, ge=1, le=65535)
    dagster_port: int = Field(default=3000, ge=1, le=65535)
    streamlit_port: int = Field(default=8501, ge=1, le=65535)
    docs_port: int = Field(default=8580, ge=1, le=65535)
    data_docs_port: int = Field(default=8581, ge=1, le=65535)  # Great Expectations Data Docs

    # Privacy: key of the keyed hash (HMAC-SHA256) used to pseudonymize PII fields.
    # The default is for the embedded demo only; production must set its own.
    pii_hmac_key: str = Field(default="pulse-dev-only-pii-key", min_length=8)

    # Collector write path. Each collector replica needs its own id (it names its WAL and its
    # Delta app-transaction), so replicas sharing one lake never overwrite each other's progress.
    collector_id: str = Field(default="local", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    flush_interval_seconds: float = Field(default=5.0, gt=0)
    flush_max_events: int = Field(default=50_000, gt=0)

    # How many proxies in front of the collector append to X-Forwarded-For. 0 ignores the header
    # (anyone could forge it) and uses the connection's address.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)

    # Backpressure: above either bound the collector answers 503 + Retry-After instead of growing.
    max_wal_pending_events: int = Field(default=2_000_000, gt=0)
    max_flush_lag_seconds: float = Field(default=60.0, gt=0)

    # Rate limit per write key (token bucket): sustained events/s and burst size. 0 disables.
    rate_limit_events_per_second: float = Field(default=0.0, ge=0)
    rate_limit_burst_events: int = Field(default=50_000, gt=0)

    # Shared state across collector/API replicas (rate limits, live fan-out). None = in-process.
    redis_url: str | None = Field(default=None, description="e.g. redis://127.0.0.1:6379/0")

    # Bearer token required by the live stream endpoints. None: allowed only on a loopback bind.
    live_token: str | None = None

    # What the collector does with a track event whose name has no registered schema.
    unknown_event_policy: Literal["accept", "quarantine"] = "accept"

    # App metadata database (sources, alerts). SQLite under data_dir by default.
    metadata_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/pulse.db"
    )

    # ---- alerting (orchestration/alerting, docs/alerting.md) ----------------------------------
    # The rules file; None: the packaged orchestration/alert_rules.yaml.
    alert_rules_path: Path | None = None
    # Base URL of the Dagster UI in alert links (/runs/<id>, /assets/<key>); None:
    # http://<host>:<dagster_port>.
    dagster_url: str | None = None
    # Email channel: the SMTP server, sender and default recipients (comma-separated).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    alert_email_from: str = "pulse-alerts@localhost"
    alert_email_to: str | None = None
    # Slack incoming-webhook and generic webhook URLs (secrets: never logged).
    alert_slack_webhook_url: SecretStr | None = None
    alert_webhook_url: SecretStr | None = None
    alert_delivery_timeout_seconds: float = Field(default=10.0, gt=0)

    # ---- Retention and archival (lake/retention/; docs/privacy.md) -----------------------------
    # The YAML file of retention policies; None = the bundled lake/retention.yaml.
    retention_policy_file: Path | None = Field(
        default=None, description="YAML retention policies; default lake/retention.yaml"
    )
    # Where expired partitions are archived: a local folder or an object-store URI (s3://, gs://,
    # az://, abfs[s]://, file://). None = <data_dir>/archive.
    archive_uri: str | None = Field(default=None, description="archive folder or URI")

    # ---- Privacy: PII field policy, key rotation, consent (issue 5) --------------------------
    # YAML/JSON file of PII field rules (docs/privacy.md); None = the built-in default policy.
    pii_policy_path: Path | None = None
    # Keys used before the current PULSE_PII_HMAC_KEY, newest first (JSON list). New data uses the
    # current key only; erasure also searches for tokens made with these (docs/privacy.md).
    pii_hmac_previous_keys: list[str] = Field(default_factory=list)
    # Analytics consent of an identity with no consent record: "granted" (opt-out: events are kept
    # until the user withdraws) or "denied" (opt-in: dropped until the user grants).
    consent_default: Literal["granted", "denied"] = "granted"

    # ---- Dashboards and reports -----------------------------------------------------------------
    # KPI targets (analytics/targets.py); None = the bundled analytics/targets.yaml.
    targets_file: Path | None = Field(
        default=None, description="YAML KPI targets; default analytics/targets.yaml"
    )
    # Sign-in (core/accounts.py, docs/dashboards.md "Sign-in and roles"): "password" = the app's
    # own form against the users table; "oidc" = Streamlit's st.login (.streamlit/secrets.toml).
    dashboard_auth: Literal["password", "oidc"] = "password"
    # How long a dashboard sign-in lasts (the session cookie and its server-side record).
    dashboard_session_hours: float = Field(default=168.0, gt=0, le=24 * 366)
    # The role of an OIDC-signed-in person who is not in the users table.
    dashboard_oidc_default_role: Literal["viewer", "analyst", "admin"] = "viewer"
    # Dashboard templates ("Start from template"); None = analytics/dashboards/templates.yaml.
    dashboard_templates_file: Path | None = Field(
        default=None,
        description="YAML dashboard templates; default analytics/dashboards/templates.yaml",
    )

    # Adoption (docs/dashboards.md, "Adoption"): the dashboards send their own page views and
    # actions to the collector under the internal source. off: nothing is sent.
    dashboard_usage: bool = True
    # Where they send them; None: http://<host>:<collector_port> (127.0.0.1 for a 0.0.0.0 bind).
    dashboard_usage_url: str | None = None

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("retention_policy_file", "targets_file", "dashboard_templates_file")
    @classmethod
    def _policy_file(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @field_validator("archive_uri")
    @classmethod
    def _archive_uri(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if "://" not in value:
            return str(Path(value).expanduser().resolve())
        scheme = value.split("://", 1)[0].lower()
        if scheme not in ARCHIVE_SCHEMES:
            raise ValueError(
                f"unsupported archive scheme {scheme!r}: use a local folder or one of "
                + ", ".join(f"{s}://" for s in ARCHIVE_SCHEMES)
            )
        return value

    @field_validator("pii_hmac_previous_keys")
    @classmethod
    def _previous_keys(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if any(len(k) < 8 for k in value):
            raise ValueError("every previous key must be at least 8 characters")
        if len(set(value)) != len(value):
            raise ValueError("a key is listed twice; list each previous key once")
        if info.data.get("pii_hmac_key") in value:
            raise ValueError(
                "it holds the current PULSE_PII_HMAC_KEY: after a rotation it lists only old keys"
            )
        return value

    @field_validator("pii_policy_path")
    @classmethod
    def _valid_policy(cls, value: Path | None) -> Path | None:
        """A bad policy file stops start-up here, with the reason (not at the first event)."""
        if value is None:
            return None
        from core.pii_policy import load_policy

        value = value.expanduser().resolve()
        load_policy(value)  # PolicyError is a ValueError: pydantic reports it on this variable
        return value

    # ---- derived locations -------------------------------------------------------------------
    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    def table_path(self, layer: str, table: str) -> Path:
        """Location of a lake table, e.g. ``table_path("bronze", "events")``."""
        return self.lake_dir / layer / table

    @property
    def gold_dir(self) -> Path:
        return self.lake_dir / "gold"

    @property
    def sim_dir(self) -> Path:
        return self.data_dir / "sim"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse" / "pulse.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    @property
    def wal_dir(self) -> Path:
        return self.data_dir / "wal"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def dashboard_usage_endpoint(self) -> str:
        """The collector the dashboards send their usage events to."""
        if self.dashboard_usage_url:
            return self.dashboard_usage_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.collector_port}"

    @property
    def archive_location(self) -> str:
        """Retention archive root: ``archive_uri`` or ``<data_dir>/archive``."""
        return self.archive_uri or str(self.data_dir / "archive")

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def data_docs_dir(self) -> Path:
        """The GX Data Docs site, rebuilt by every check run and served by ``pulse serve``."""
        return self.data_dir / "quality" / "data_docs"

    @property
    def dagster_base_url(self) -> str:
        return (self.dagster_url or f"http://{self.host}:{self.dagster_port}").rstrip("/")

    @property
    def alert_email_recipients(self) -> list[str]:
        return [a.strip() for a in (self.alert_email_to or "").split(",") if a.strip()]

    @property
    def metadata_db_url(self) -> str:
        return self.metadata_url or f"sqlite:///{self.data_dir / 'pulse.db'}"

    def subprocess_env(self) -> dict[str, str]:
        """Variables that dbt and child processes read (dbt's profiles.yml uses these)."""
        return {
            "PULSE_DATA_DIR": str(self.data_dir),
            "PULSE_LAKE_DIR": str(self.lake_dir),
            "PULSE_WAREHOUSE_PATH": str(self.warehouse_path),
            "DAGSTER_HOME": str(self.dagster_home),
        }


@functools.cache
def get_settings() -> Settings:
    """Read the environment once. Fails fast with a message naming the bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"PULSE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid Pulse settings: {problems}") from None
