"""The privacy audit log: append-only Delta table, subjects only as keyed hashes."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from deltalake import DeltaTable

from core.settings import Settings
from lake.audit import AuditEntry, audit_path, read, record, subject_token


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path)


def test_record_appends_one_commit_per_call_and_reads_back_filtered(settings):
    alice = subject_token(settings, "user-alice")
    assert record(settings, AuditEntry("export", subject=alice, rows=12)) == 1
    entries = [
        AuditEntry("retention_delete", target="bronze/events", rows=5),
        AuditEntry("key_rotation"),
    ]
    assert record(settings, entries) == 2

    assert read(settings).num_rows == 3
    exports = read(settings, action="export").to_pylist()
    assert [(e["subject"], e["rows"], e["status"]) for e in exports] == [(alice, 12, "ok")]
    assert read(settings, subject=alice).num_rows == 1
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert read(settings, since=future).num_rows == 0
    # Append-only: two calls, two append commits after the create, nothing else.
    history = DeltaTable(str(audit_path(settings))).history()
    assert sorted(h["operation"] for h in history) == ["CREATE TABLE", "WRITE", "WRITE"]


def test_subject_token_is_keyed_and_never_the_raw_id(settings):
    token = subject_token(settings, "user-alice")
    assert token.startswith("subj:") and "user-alice" not in token
    assert token == subject_token(settings, "user-alice")
    assert token != subject_token(settings, "user-alice", key="another-key-123")
    with pytest.raises(ValueError, match="never raw ids"):
        AuditEntry("erasure", subject="user-alice")
    with pytest.raises(ValueError, match="unknown audit action"):
        AuditEntry("deleted-stuff")


def test_empty_log_reads_as_empty_table(settings):
    assert read(settings).num_rows == 0


def test_cli_lists_entries(settings, monkeypatch):
    from core import settings as settings_module
    from pulse.cli import main

    monkeypatch.setenv("PULSE_DATA_DIR", str(settings.data_dir))
    settings_module.get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert "the audit log is empty" in runner.invoke(main, ["privacy", "audit"]).output
        record(settings, AuditEntry("export", subject=subject_token(settings, "u1"), rows=3))
        result = runner.invoke(main, ["privacy", "audit", "--action", "export"])
        assert result.exit_code == 0, result.output
        assert (
            "export" in result.output and "rows=3" in result.output and "u1 " not in result.output
        )
        bad = runner.invoke(main, ["privacy", "audit", "--action", "nope"])
        assert bad.exit_code == 2 and "expected one of" in bad.output
    finally:
        settings_module.get_settings.cache_clear()
