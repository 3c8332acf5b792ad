"""gunicorn's settings for the requests service; the image runs `gunicorn --config gunicorn.conf.py`.

The environment is checked here, in the master, before any worker starts: a bad variable stops the start with its
name, instead of every worker failing to boot in a loop.
"""

import os
import sys

from requests_service import limits, logs
from requests_service.config import ConfigError, load_config

try:
    _config = load_config(os.environ)
except ConfigError as error:
    print(f"{logs.APP_NAME}: refusing to start: {error}", file=sys.stderr, flush=True)
    sys.exit(2)

wsgi_app = "requests_service:create_app()"
bind = [f"0.0.0.0:{_config['PORT']}"]
workers = _config["WEB_CONCURRENCY"]
# Each worker listens on a socket of its own (SO_REUSEPORT), and the kernel spreads new connections over them. On one
# shared socket, the worker that wakes first accepts a burst of them, and a keep-alive connection stays with the worker
# that accepted it: the bench saw 63 of 64 connections on one worker, one CPU doing the work of two.
reuse_port = True
# gthread, with each request gathered in the worker's event loop before a thread takes it, the HTTP rules checked on
# its head, and every answer in JSON (worker.py). Threads let a worker keep serving while one request waits on the
# tasks service or the database; db.POOL_SIZE matches them.
worker_class = "requests_service.worker.RequestsWorker"
threads = 4
# The worker refuses at the documented limits (http_rules.py) before gunicorn's parser runs; these are gunicorn's own,
# a second line. 8190 is gunicorn's largest request line.
limit_request_line = 8190
limit_request_field_size = limits.HEADERS_MAX
limit_request_fields = limits.HEADER_COUNT_MAX
# SIGTERM: stop accepting, let in-flight requests finish for up to graceful_timeout, then exit, well within the
# 10 s that `docker stop` allows before it kills.
graceful_timeout = 8
timeout = 30
# Seconds a connection may stay open with no request on its way; a request, once started, has
# worker.REQUEST_TIMEOUT to arrive whole.
keepalive = 5
# The heartbeat file is touched constantly; memory-backed /dev/shm keeps that off the container's overlay disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - gunicorn makes its own file in it
# Nobody manages this gunicorn at run time (systemd restarts the container), and the non-root user has no home.
control_socket_disable = True
# The app logs each request itself (method, path, status, duration) to stdout and Papertrail.
accesslog = None
errorlog = "-"
loglevel = _config["LOG_LEVEL"].lower()


def worker_exit(server, worker):
    # Flush what is still queued for Papertrail, bounded so an unreachable Papertrail cannot delay the exit.
    logs.shutdown_logging(timeout=1.0)
