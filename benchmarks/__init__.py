"""Load benchmarks of the scheduler on PostgreSQL behind gunicorn: `python -m benchmarks.run`."""
