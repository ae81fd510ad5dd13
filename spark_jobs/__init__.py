"""Pure PySpark feature jobs: DataFrames in, DataFrame out; no Dagster here."""
