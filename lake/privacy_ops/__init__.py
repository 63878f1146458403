"""Privacy operations on everything Pulse stores: erasure (right to be forgotten) and export
(right of access). One job per module:

* :mod:`.identity`  who the data subject is in our data (user id, linked anonymous ids, PII tokens)
  and the row predicate that selects their rows in any table;
* :mod:`.delta`     rewrite every Delta table of the lake and purge its history (files and log);
* :mod:`.warehouse` delete from dbt's DuckDB warehouse and rewrite the file without free blocks;
* :mod:`.files`     loose Parquet (gold publications, scores, archives), text files (reports,
  logs), SQLite stores and the collector's write-ahead log;
* :mod:`.verify`    scan every file of the data dir, decoded, for any of the subject's identifiers;
* :mod:`.requests`  the ``erasure_requests`` table in the app metadata database;
* :mod:`.erasure`   the whole erasure, step by step; :mod:`.export` the access export.
"""
