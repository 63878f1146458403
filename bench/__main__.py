"""``python -m bench`` (``make bench``): run the benchmarks, write results, regenerate the docs."""

from __future__ import annotations

import argparse

from bench import harness, pipeline


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()

    params, metrics = pipeline.run(users=args.users, days=args.days)
    path = harness.record("pipeline", "Pipeline stages on the demo world", params, metrics)
    for row in metrics:
        print(f"  {row['metric']:<42} {row['value']:>14,.2f} {row['unit']}")
    print(f"results: {path}\ndocs:    {harness.render_docs()}")


if __name__ == "__main__":
    main()
