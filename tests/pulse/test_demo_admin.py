"""`pulse demo`'s dashboard admin: a random password saved 0600 under <data>/secrets, re-used by
the next demo run (which recreates the metadata database)."""

from __future__ import annotations

import stat

from core import accounts
from core.metadata import engine_for
from core.roles import Principal
from pulse.demo import demo_admin_file, ensure_demo_admin, reset_demo_state


def test_the_demo_admin_signs_in_with_the_saved_password_across_demo_runs(pulse_settings):
    username, password = ensure_demo_admin(pulse_settings)
    path = demo_admin_file(pulse_settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"password={password}" in path.read_text() and len(password) >= 16
    engine = engine_for(pulse_settings)
    assert accounts.authenticate(engine, username, password) == Principal("admin", "admin")

    engine.dispose()
    reset_demo_state(pulse_settings)  # what the next `pulse demo` does first
    assert path.exists()
    assert ensure_demo_admin(pulse_settings) == (username, password)
    engine = engine_for(pulse_settings)
    assert accounts.authenticate(engine, username, password) == Principal("admin", "admin")
