"""Gold publications: immutable directories, an atomic CURRENT pointer, pinned reads, pruning."""

from __future__ import annotations

import json
import os
import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake import gold


def _table(n: int) -> pa.Table:
    return pa.table({"id": list(range(n)), "name": [f"r{i}" for i in range(n)]})


def test_no_publication_says_what_to_run(pulse_settings):
    with pytest.raises(
        gold.MartNotPublished, match="no published marts yet: run pulse materialize"
    ):
        gold.current(pulse_settings)
    with pytest.raises(FileNotFoundError):  # MartNotPublished is a FileNotFoundError
        gold.read_mart(pulse_settings, "dim_users")


def test_publish_writes_zstd_parquet_manifest_and_pointer(pulse_settings, tmp_path):
    outside = tmp_path / "b.parquet"
    pq.write_table(_table(2), outside)
    pub = gold.publish(
        pulse_settings,
        {"a": _table(3), "b": outside},
        {"run_id": "run-1", "bronze_versions": {"events": 7}, "note": "x"},
    )
    assert outside.exists()  # files outside the gold dir are copied, not moved
    assert pub.path == pulse_settings.gold_dir / "publications" / pub.id
    assert (pulse_settings.gold_dir / "CURRENT").read_text().strip() == pub.id
    manifest = json.loads((pub.path / "manifest.json").read_text())
    assert manifest["models"] == {"a": {"rows": 3}, "b": {"rows": 2}}
    assert manifest["dagster_run_id"] == "run-1"
    assert manifest["bronze_versions"] == {"events": 7}
    assert manifest["extra"] == {"note": "x"}
    meta = pq.ParquetFile(gold.mart_path(pulse_settings, "a")).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert gold.read_mart(pulse_settings, "a").height == 3
    assert gold.current(pulse_settings) == gold.load(pulse_settings, pub.id)
    with pytest.raises(gold.MartNotPublished, match="'nope' is not in publication"):
        gold.mart_path(pulse_settings, "nope")


def test_staged_files_are_moved_in(pulse_settings):
    staged = gold.staging_dir(pulse_settings) / "m.parquet"
    pq.write_table(_table(5), staged)
    pub = gold.publish(pulse_settings, {"m": staged})
    assert not staged.exists()
    assert pub.models == {"m": 5}
    assert gold.list_publications(pulse_settings) == [pub.id]  # staging dirs are not listed


def test_pinned_reads_one_publication_while_another_is_published(pulse_settings):
    first = gold.publish(pulse_settings, {"a": _table(1), "b": _table(1)})
    with gold.pinned(pulse_settings) as pub:
        assert pub.id == first.id
        second = gold.publish(pulse_settings, {"a": _table(2), "b": _table(2)})
        assert gold.read_mart(pulse_settings, "a").height == 1
        assert gold.mart_path(pulse_settings, "b").parent == first.path
        seen_in_thread = []
        # pins are per thread: another thread sees the new publication
        t = threading.Thread(target=lambda: seen_in_thread.append(gold.current(pulse_settings).id))
        t.start()
        t.join()
        assert seen_in_thread == [second.id]
    assert gold.read_mart(pulse_settings, "a").height == 2


def test_prune_keeps_current_newest_and_young_publications(pulse_settings):
    ids = [gold.publish(pulse_settings, {"a": _table(i + 1)}).id for i in range(5)]
    assert gold.prune(pulse_settings, keep=2, min_age_seconds=600) == []  # all too young
    old = 1_000_000_000
    for pub_id in ids:
        os.utime(pulse_settings.gold_dir / "publications" / pub_id, (old, old))
    assert gold.prune(pulse_settings, keep=2, min_age_seconds=600) == ids[:3]
    assert gold.list_publications(pulse_settings) == ids[3:]
    # the current one survives even when keep=0
    assert gold.prune(pulse_settings, keep=0, min_age_seconds=0) == ids[3:4]
    assert gold.list_publications(pulse_settings) == [ids[4]]
    assert gold.current(pulse_settings).id == ids[4]


def test_a_failed_publish_leaves_the_current_publication(pulse_settings, tmp_path):
    first = gold.publish(pulse_settings, {"a": _table(1)})
    with pytest.raises(FileNotFoundError):
        gold.publish(pulse_settings, {"a": _table(1), "b": tmp_path / "missing.parquet"})
    assert gold.current(pulse_settings).id == first.id
    assert gold.list_publications(pulse_settings) == [first.id]
    assert not list((pulse_settings.gold_dir / "publications").glob(".staging-*"))
