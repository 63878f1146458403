"""``python -m bench`` (``make bench``): run the benchmarks, write results, regenerate the docs."""

from __future__ import annotations

import argparse

from bench import harness


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=["pipeline", "collector"], help="run one benchmark")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--collector-seconds", type=float, default=10.0)
    parser.add_argument("--latency-seconds", type=float, default=25.0)
    parser.add_argument(
        "--profile", action="store_true", help="collector: also profile it under load (cProfile)"
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
    print(f"docs:    {harness.render_docs()}")


if __name__ == "__main__":
    main()
