"""gunicorn's gthread worker, with gunicorn's own error answers in JSON.

gunicorn answers some requests itself, before the app sees them: a request line or headers past its limits, a
request it cannot parse, a broken chunked framing. It writes those as small HTML pages through `util.write_error`,
and nothing else calls that function, so the worker replaces it with one that writes the service's JSON error body.
gunicorn still decides the status; the texts of the limits are the app's own (limits.py).
"""

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from .errors import JSON_TYPE, detail, error_json
from .limits import HEADERS_TOO_LARGE, URI_TOO_LONG

MESSAGE_MAX = 200  # characters of gunicorn's own description kept in the answer (it may quote the request)
OWN_TEXTS = {status: (error, message) for status, error, message in (URI_TOO_LONG, HEADERS_TOO_LARGE)}


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """util.write_error's signature and job: answer and close, with a JSON body instead of an HTML page."""
    error, message = OWN_TEXTS.get(status_int, (reason.lower(), mesg[:MESSAGE_MAX] or reason))
    body = error_json(error, [detail(None, message)])
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {JSON_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class JsonErrorWorker(ThreadWorker):
    def init_process(self):
        util.write_error = write_json_error  # in this worker process only; the master never answers requests
        super().init_process()
