"""Client for the tasks service: does a task exist?

Contract (docs/api.md): GET {TASKS_URL}/tasks/{id}, with this service's key (TASKS_API_KEY, the tasks service's
caller `requests`), answers 200 with the task (a JSON object whose `id` is the id asked for), 404 when there is no such
task, 400 for an invalid id (which the caller has already ruled out). Anything else (no answer in time, refused, its
key refused, 5xx) means the tasks service is unavailable, and the request that needs it must not go on.
"""

import http.client
import json
import logging
import urllib.error
import urllib.request
from urllib.parse import quote

log = logging.getLogger(__name__)

# TASKS_URL is the tasks host's private address: never route it through an HTTP(S)_PROXY from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MAX_BODY = 1 << 20  # bytes read from a 200; a task is far smaller


class TasksUnavailableError(Exception):
    """The tasks service could not say whether the task exists; the message says why, for the client."""


def task_exists(base_url: str, key: str, task_id: str, timeout: float) -> bool:
    """True if the tasks service has the task, False if it answers 404; raises TasksUnavailableError otherwise."""
    url = f"{base_url}/tasks/{quote(task_id, safe='')}"
    headers = {"Accept": "application/json", "Authorization": f"Bearer {key}"}
    req = urllib.request.Request(url, headers=headers)  # noqa: S310 - config allows only http(s)
    try:
        with _opener.open(req, timeout=timeout) as response:
            body = response.read(MAX_BODY)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 404:
            return False
        if error.code in (401, 403):
            reason = f"the tasks service refused the requests service's key (HTTP {error.code})"
            raise _unavailable(url, reason) from None
        raise _unavailable(url, f"the tasks service answered HTTP {error.code}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        # urllib wraps a connect timeout in URLError; a read timeout arrives bare.
        if isinstance(getattr(error, "reason", error), TimeoutError):
            raise _unavailable(url, f"the tasks service did not answer within {timeout:g} s") from None
        raise _unavailable(url, "the tasks service is unreachable", error) from None
    try:
        task = json.loads(body)
    except ValueError:
        task = None
    # A 200 carries the task, or the answer did not come from the tasks service (a wrong TASKS_URL, a proxy's page).
    if not isinstance(task, dict) or task.get("id") != task_id:
        raise _unavailable(url, "the tasks service answered 200 without the task")
    return True


def _unavailable(url: str, reason: str, error: Exception | None = None) -> TasksUnavailableError:
    log.warning("%s (GET %s)%s", reason, url, f": {error}" if error else "")
    return TasksUnavailableError(reason)
