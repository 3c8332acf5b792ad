"""The requests service: a Flask app factory, served by gunicorn (see gunicorn.conf.py)."""

import os

from flask import Flask

from . import db, errors, health, logs, requests_api, validation
from .config import load_config


class App(Flask):
    def make_default_options_response(self):
        # OPTIONS: 204 with Allow and no body (Flask's default is an empty 200).
        response = super().make_default_options_response()
        response.status_code = 204
        return response


def create_app(test_config=None) -> Flask:
    """Build the app from the environment, or from test_config: a mapping of the same variables, checked by the
    same schema (config.SCHEMA). Raises config.ConfigError naming every missing or bad variable."""
    app = App(__name__)
    app.config.from_mapping(load_config(os.environ if test_config is None else test_config))
    app.json.sort_keys = False  # keep the columns' order in answers
    app.json.mimetype = errors.JSON_TYPE
    app.url_map.merge_slashes = False  # //requests is a 404 like any unknown path, not a redirect
    health.openapi_document()

    logs.init_app(app)
    errors.register(app)
    app.before_request(validation.check_path)
    app.before_request(validation.check_query)
    app.after_request(_no_body_no_type)
    app.after_request(_no_sniffing)
    db.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(requests_api.bp)
    return app


def _no_body_no_type(response):
    if response.status_code == 204:
        del response.headers["Content-Type"]
    return response


def _no_sniffing(response):
    # Every answer is JSON, or has no body: a browser must not guess another type (the worker's own answers say so too).
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
