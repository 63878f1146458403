from pathlib import Path

from core.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented():
    text = DOCS.read_text()
    missing = [
        f"PULSE_{name.upper()}"
        for name in Settings.model_fields
        if f"`PULSE_{name.upper()}`" not in text
    ]
    assert not missing, f"document these in docs/configuration.md: {missing}"
