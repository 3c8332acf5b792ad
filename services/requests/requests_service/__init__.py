"""The requests service: a Flask app factory, served by gunicorn (see gunicorn.conf.py)."""

import os

from flask import Flask

from . import db, errors, health, logs, requests_api
from .config import load_config


def create_app(test_config=None) -> Flask:
    """Build the app from the environment, or from test_config: a mapping of the same variables, checked by the
    same schema (config.SCHEMA). Raises config.ConfigError naming every missing or bad variable."""
    app = Flask(__name__)
    app.config.from_mapping(load_config(os.environ if test_config is None else test_config))
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # bodies are a few hundred bytes; larger ones get a 413
    app.json.sort_keys = False  # keep the columns' order in answers

    logs.init_app(app)
    errors.register(app)
    db.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(requests_api.bp)
    return app
