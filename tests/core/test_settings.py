import pytest

from core.settings import Settings, SettingsError, get_settings


def test_defaults_put_all_state_under_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PULSE_DATA_DIR", raising=False)
    settings = Settings()
    assert settings.data_dir == (tmp_path / "data").resolve()
    assert settings.table_path("bronze", "events") == settings.data_dir / "lake/bronze/events"
    assert settings.gold_dir == settings.data_dir / "lake/gold"
    assert settings.sim_dir == settings.data_dir / "sim"
    assert settings.dagster_home == settings.data_dir / "dagster_home"
    assert settings.metadata_db_url == f"sqlite:///{settings.data_dir / 'pulse.db'}"
    assert (settings.collector_port, settings.dagster_port, settings.streamlit_port) == (
        8080,
        3000,
        8501,
    )


def test_ports_and_data_dir_come_from_pulse_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("PULSE_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("PULSE_DAGSTER_PORT", "3999")
    settings = Settings()
    assert settings.data_dir == tmp_path / "elsewhere"
    assert settings.dagster_port == 3999
    assert settings.subprocess_env()["PULSE_WAREHOUSE_PATH"].endswith("warehouse/pulse.duckdb")


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("PULSE_COLLECTOR_PORT", "eighty", "PULSE_COLLECTOR_PORT"),
        ("PULSE_STREAMLIT_PORT", "70000", "PULSE_STREAMLIT_PORT"),
        ("PULSE_COLLECTOR_ID", "has spaces", "PULSE_COLLECTOR_ID"),
        ("PULSE_FLUSH_INTERVAL_SECONDS", "0", "PULSE_FLUSH_INTERVAL_SECONDS"),
    ],
)
def test_a_bad_setting_fails_fast_naming_the_variable(monkeypatch, variable, value, named):
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match=named):
        get_settings()
    get_settings.cache_clear()
