"""``python -m bench`` (``make bench``): run the benchmarks, write results, regenerate the docs."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench import harness


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        choices=["pipeline", "collector", "transform", "anomaly", "privacy", "dashboards"],
        help="run one benchmark",
    )
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--collector-seconds", type=float, default=10.0)
    parser.add_argument("--latency-seconds", type=float, default=25.0)
    parser.add_argument(
        "--profile", action="store_true", help="collector: also profile it under load (cProfile)"
    )
    parser.add_argument(
        "--transform-scales",
        default="1x,10x",
        help="transform: scales to run (1x≈1M, 10x≈10M events)",
    )
    parser.add_argument(
        "--transform-dir",
        default=str(Path(tempfile.gettempdir()) / "pulse-bench-transform"),
        help="transform: where worlds are generated and kept (re-runs reuse them)",
    )
    parser.add_argument(
        "--anomaly-seeds", default="1,2,3,4,5", help="anomaly: seeds of the worlds to score"
    )
    parser.add_argument(
        "--privacy-dir",
        default=str(Path(tempfile.gettempdir()) / "pulse-bench-privacy"),
        help="privacy: where the 10M-event world is generated and kept (erasures are destructive: "
        "each run erases another user)",
    )
    parser.add_argument(
        "--privacy-rederive",
        action="store_true",
        help="privacy: also time re-derivation (needs a dbt warehouse in that world)",
    )
    parser.add_argument(
        "--transform-test-timeout",
        type=float,
        default=900.0,
        help="transform: stop `dbt test` after this many seconds (the build row is then a lower bound)",
    )
    parser.add_argument(
        "--dashboards-data",
        default=None,
        help="dashboards: a materialized data dir to measure on (copied; default: a fresh "
        "`pulse demo` world of --users x --days)",
    )
    parser.add_argument("--dashboards-visits", type=int, default=5, help="dashboards: warm visits")
    parser.add_argument(
        "--dashboards-data-10x",
        default=None,
        help="dashboards: also measure on this materialized data dir of 10x the demo's users "
        "(the issue's goal there: warm p95 <= 1.5 s), recorded as dashboards_10x",
    )
    args = parser.parse_args()

    if args.only in (None, "pipeline"):
        from bench import pipeline

        params, metrics = pipeline.run(users=args.users, days=args.days)
        path = harness.record("pipeline", "Pipeline stages on the demo world", params, metrics)
        for row in metrics:
            print(f"  {row['metric']:<42} {row['value']:>14,.2f} {row['unit']}")
        print(f"results: {path}")
    if args.only in (None, "collector"):
        from bench import collector

        params, metrics, details = collector.run(
            duration=args.collector_seconds,
            latency_seconds=args.latency_seconds,
            profile=args.profile,
        )
        path = harness.record("collector", "Collector ingest (issue 3)", params, metrics)
        collector.print_table(metrics, details)
        print(f"results: {path}")
    if args.only in (None, "transform"):
        from bench import transform

        params, metrics, _results = transform.run(
            [transform.SCALES[s] for s in args.transform_scales.split(",")],
            Path(args.transform_dir),
            test_timeout=args.transform_test_timeout,
        )
        path = harness.record(
            "transform", "Transform: dbt builds and mart queries (issue 4)", params, metrics
        )
        for row in metrics:
            print(f"  {row['metric']:<70} {row['value']:>12,.2f} {row['unit']}")
        print(f"results: {path}")
    if args.only in (None, "anomaly"):
        from bench import anomaly

        params, metrics, scores = anomaly.run([int(s) for s in args.anomaly_seeds.split(",")])
        path = harness.record(
            "anomaly", "Anomaly detection: injected incidents (issue 6)", params, metrics
        )
        for row in metrics:
            print(f"  {row['metric']:<45} {row['value']:>8,.3f} {row['unit']}")
        for s in scores:
            for missed in s.missed:
                print(f"  missed (seed {s.seed}): {missed}")
    if args.only in (None, "privacy"):
        from bench import privacy

        params, metrics, _result = privacy.run(
            Path(args.privacy_dir), rederive=args.privacy_rederive
        )
        path = harness.record("privacy", "Privacy: erase one user (issue 5)", params, metrics)
        for row in metrics:
            print(f"  {row['metric']:<60} {row['value']:>12,.2f} {row['unit']}")
        print(f"results: {path}")
    if args.only in (None, "dashboards"):
        from bench import dashboards

        data = Path(args.dashboards_data) if args.dashboards_data else None
        params, metrics, _measured = dashboards.run(
            data, args.users, args.days, warm_visits=args.dashboards_visits
        )
        path = harness.record(
            "dashboards", "Dashboards: page loads in headless Chromium (issue 13)", params, metrics
        )
        for row in metrics:
            print(f"  {row['metric']:<100} {row['value']:>8,.2f} {row['unit']}")
        print(f"results: {path}")
        if args.dashboards_data_10x:
            params, metrics, _measured = dashboards.run(
                Path(args.dashboards_data_10x),
                args.users * 10,
                args.days,
                warm_visits=args.dashboards_visits,
                scale="10x",
            )
            path = harness.record(
                "dashboards_10x",
                "Dashboards at 10x the demo's users: page loads in headless Chromium (issue 13)",
                params,
                metrics,
            )
            for row in metrics:
                print(f"  {row['metric']:<100} {row['value']:>8,.2f} {row['unit']}")
            print(f"results: {path}")
    print(f"docs:    {harness.render_docs()}")


if __name__ == "__main__":
    main()
