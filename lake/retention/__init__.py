"""Retention and archival: how long each table's data is kept, and the engine that enforces it.

Policies live in a YAML file (``lake/retention.yaml`` by default, ``PULSE_RETENTION_POLICY_FILE``
to use another). Each names a Delta table (``bronze/events``) or a whole layer (``gold/*``), how
long its data is kept (``400d``, ``12w``, ``1y`` or ``forever``), optionally a row filter
(``where: {event: API Request}``: API telemetry lives inside ``bronze/events``) and whether
expired data is archived first. A policy may also name a folder of plain files under the data dir
(``files: logs``), whose files are deleted by age. :func:`~lake.retention.policy.load_policies` validates the file, first
its form (pydantic) and then against the lake (tables, columns, folders), and raises one
:class:`~lake.retention.policy.RetentionPolicyError` listing every problem with what to do about it.

:func:`~lake.retention.enforce.enforce` applies the policies at an injectable ``now``. A table's date partition is expired
when its date is before ``now - keep``. For each expired partition (and policy), in this order:

1. read the partition's rows (those matching ``where``) from one snapshot of the table;
2. archive them, if the policy says so, as one zstd Parquet file
   ``<archive>/<layer>/<table>/<partition_col>=<value>/part-<run>-<policy>.parquet``;
3. delete exactly those rows with a Delta ``delete`` committed against *that same snapshot*: an
   append that landed in the partition meanwhile makes the commit fail instead of deleting rows
   that were not archived, so the step is retried from 1 after a back-off (appends to other
   partitions do not conflict);
4. append ``retention_archive`` / ``retention_delete`` entries to the privacy audit log.

Then every table that lost rows is vacuumed at once (retention 0, "lite" mode: only files the log
has removed, never a file a concurrent writer has not committed yet), so no retained version still
holds expired rows. Each run's actions land in the Delta table ``system/retention_runs``.
With ``dry_run=True`` nothing is written anywhere: the report says what would happen.

The collector's WAL needs no policy: the flusher deletes segments as soon as they are in Delta.

Modules, in the order a run uses them (each imports only the ones before it):

* :mod:`~lake.retention.tables` — the lake's tables and their date partition columns;
* :mod:`~lake.retention.policy` — parsing and validating the policy file;
* :mod:`~lake.retention.planning` — cutoffs, delete predicates, the expired partitions;
* :mod:`~lake.retention.archive` — the archive store;
* :mod:`~lake.retention.report` — what a run did, and the run history table;
* :mod:`~lake.retention.delete` — archive-then-delete of a partition, warehouse copies, files,
  vacuum;
* :mod:`~lake.retention.enforce` — one run over every policy.
"""
