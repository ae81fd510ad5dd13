"""The command line every job shares, so each runs alone under spark-submit."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import date

from pyspark.sql import SparkSession

from spark_jobs.session import build_session


def main(run: Callable[[SparkSession, str, str, str], dict], app_name: str, argv: list[str] | None = None) -> None:
    """The command line every job shares: `--date D [--end-date E] --lake PATH [--master M]`."""
    parser = argparse.ArgumentParser(description=f"Compute {app_name} for a day or an inclusive range of days.")
    parser.add_argument("--date", required=True, help="first (or only) day, YYYY-MM-DD")
    parser.add_argument("--end-date", help="last day of the range, YYYY-MM-DD (default: --date)")
    parser.add_argument("--lake", required=True, help="lake root holding raw/ and features/")
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args(argv)
    end = args.end_date or args.date
    if date.fromisoformat(end) < date.fromisoformat(args.date):
        parser.error("--end-date is before --date")
    spark = build_session(args.master, app_name)
    try:
        print(json.dumps(run(spark, args.lake, args.date, end), indent=2))
    finally:
        spark.stop()
