"""WSGI entry point: `gunicorn wsgi:app` or `flask --app wsgi ...`.

Production settings unless APP_ENV=development (or testing): see config_for_environment.
"""
from config import config_for_environment
from scheduler import create_app

app = create_app(config_for_environment())
