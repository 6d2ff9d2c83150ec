"""Running the clinic's server: health, backups, the worker's runs, demo data."""
