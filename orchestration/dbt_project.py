"""The dbt project as Dagster sees it, and how its manifest is prepared.

Dagster builds the dbt assets from ``dbt_project/target/manifest.json``. That file is produced at
install time (``make install`` runs ``pulse prepare`` → :func:`prepare_manifest` → ``dbt parse``),
never while definitions are imported: parsing takes seconds and would run in every Dagster process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dagster_dbt import DbtProject

from core.settings import Settings

REPO_DIR = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_DIR / "dbt_project"

# Files whose change makes the manifest stale.
_DBT_SOURCE_GLOBS = (
    "dbt_project.yml",
    "profiles.yml",
    "models/**/*",
    "macros/**/*",
    "tests/**/*",
    "seeds/**/*",
    "snapshots/**/*",
    "analyses/**/*",
)


class ManifestMissingError(RuntimeError):
    """The dbt manifest has not been prepared; the message says how to prepare it."""


def pulse_dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def manifest_path() -> Path:
    return Path(pulse_dbt_project().manifest_path)


def manifest_is_stale(path: Path | None = None) -> bool:
    """True when the manifest is missing or older than any file of the dbt project."""
    path = path or manifest_path()
    if not path.exists():
        return True
    built = path.stat().st_mtime
    return any(
        f.is_file() and f.stat().st_mtime > built
        for pattern in _DBT_SOURCE_GLOBS
        for f in DBT_PROJECT_DIR.glob(pattern)
    )


def require_manifest() -> Path:
    """The manifest path, or a clear error saying how to create it."""
    path = manifest_path()
    if not path.exists():
        raise ManifestMissingError(
            f"dbt manifest not found at {path}. Prepare it once after installing or changing the "
            "dbt project: `make install` (or `pulse prepare`, which runs `dbt parse`)."
        )
    return path


def _dbt_executable() -> str:
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def _dbt_parse(settings: Settings, target_path: Path | None = None) -> None:
    """``dbt parse`` with this data dir's environment (into ``target_path``, else the project's
    own target); raises with dbt's output when it fails."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        _dbt_executable(),
        "parse",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        *(["--target-path", str(target_path)] if target_path is not None else []),
        "--quiet",
    ]
    proc = subprocess.run(
        cmd,
        cwd=REPO_DIR,
        env={**os.environ, **settings.subprocess_env()},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"`dbt parse` failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )


def prepare_manifest(settings: Settings, force: bool = False) -> Path:
    """Run ``dbt parse`` when the manifest is missing or stale (or ``force``); return its path."""
    path = manifest_path()
    if not force and not manifest_is_stale(path):
        return path
    _dbt_parse(settings)
    if not path.exists():
        raise RuntimeError(f"`dbt parse` succeeded but wrote no manifest at {path}")
    path.touch()  # partial parsing may leave the mtime alone; mark it fresh
    return path


# ---- partial parsing at run time -----------------------------------------------------------------
# dbt re-parses the whole project (~10-20 s here) whenever its saved parse was made with another
# profile, and the profile holds the warehouse path, i.e. the data dir. The install-time parse
# (above) has the default data dir, so without this every Dagster dbt step of any other data dir
# (tests, a deployment's own PULSE_DATA_DIR) parsed from scratch. Each data dir keeps its own
# target dir with a parse made with its own profile; Dagster's dbt invocations write beneath it
# (DBT_TARGET_PATH) and start from that parse.

KEEP_INVOCATIONS = 30  # invocation directories (compiled SQL, run_results.json) kept per data dir


def dbt_target_dir(settings: Settings) -> Path:
    return settings.data_dir / "dbt" / "target"


def warm_partial_parse(settings: Settings) -> Path:
    """Ensure ``<data dir>/dbt/target/partial_parse.msgpack`` matches this data dir's profile and
    the current manifest; prune old invocation directories. Safe to call from parallel steps:
    the file is produced in a private directory and moved into place atomically."""
    target = dbt_target_dir(settings)
    saved = target / "partial_parse.msgpack"
    manifest = require_manifest()
    if saved.exists() and saved.stat().st_mtime >= manifest.stat().st_mtime:
        _prune_invocations(target)
        return saved
    target.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix=".parse-", dir=target))
    try:
        _dbt_parse(settings, target_path=private)
        if not (private / "partial_parse.msgpack").exists():
            raise RuntimeError(f"`dbt parse` succeeded but wrote no partial parse in {private}")
        os.replace(private / "partial_parse.msgpack", saved)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    _prune_invocations(target)
    return saved


def _prune_invocations(target: Path) -> None:
    runs = sorted(
        (d for d in target.iterdir() if d.is_dir() and not d.name.startswith(".")),
        key=lambda d: d.stat().st_mtime,
    )
    for old in runs[:-KEEP_INVOCATIONS]:
        shutil.rmtree(old, ignore_errors=True)
