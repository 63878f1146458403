from pulse.demo import Phases, reset_demo_state


def test_phases_time_each_step_and_total_them():
    printed: list[str] = []
    phases = Phases(printed.append)
    with phases.phase("first"):
        pass
    with phases.phase("a much longer second phase"):
        pass
    assert [name for name, _ in phases.timings] == ["first", "a much longer second phase"]
    assert printed[0] == "==> first" and printed[1].startswith("    done in ")
    summary = phases.summary().splitlines()
    assert summary[0] == "phase timings:"
    assert summary[-1].split()[0] == "total"
    # aligned: every duration column ends at the same place
    assert len({len(line) for line in summary[1:]}) == 1


def test_reset_removes_only_demo_owned_state(pulse_settings):
    data = pulse_settings.data_dir
    (data / "lake" / "bronze").mkdir(parents=True)
    (data / "pulse.db").write_text("x")
    (data / "notes.txt").write_text("keep me")
    reset_demo_state(pulse_settings)
    assert not (data / "lake").exists() and not (data / "pulse.db").exists()
    assert (data / "notes.txt").read_text() == "keep me"
