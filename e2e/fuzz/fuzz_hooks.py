"""Schemathesis hooks for the fuzz suite (e2e/test_fuzz.py loads them through SCHEMATHESIS_HOOKS)."""

import itertools
import os
import re

import schemathesis

TASK_ID = re.compile(r"[0-9a-f]{24}")
# A well-formed Idempotency-Key, as the services' openapi.json documents it.
IDEMPOTENCY_KEY = re.compile(r'[!#-~][!-~]{0,254}|"(?:[!#-\[\]-~]|\\["\\]){1,255}"')
fresh_keys = (f"fuzz-{n}" for n in itertools.count())


@schemathesis.hook
def before_call(context, case, kwargs):
    """A create for a task that does not exist only ever gets a 422: a fuzzer left alone would never create a request,
    and the stateful phase would never reach one to read, decide or delete. So half of the well-formed task ids in
    creates (chosen by the id itself, so a run repeats) become the id of a task that exists, made by the test and
    named in FUZZ_TASK_ID. Malformed task ids stay as generated.

    And each well-formed Idempotency-Key becomes a key never used before: the few short keys a fuzzer generates would
    otherwise come back with other bodies (each a 422, so creates would go untested) and, in the stateful phase, replay
    the answer of a create whose resource a later step deleted. Malformed keys stay as generated."""
    key = (case.headers or {}).get("Idempotency-Key")
    if key is not None and IDEMPOTENCY_KEY.fullmatch(key):
        case.headers["Idempotency-Key"] = next(fresh_keys)
    body = case.body
    if case.operation.label != "POST /requests" or not isinstance(body, dict):
        return
    task_id = body.get("task_id")
    if isinstance(task_id, str) and TASK_ID.fullmatch(task_id) and int(task_id[-1], 16) % 2 == 0:
        body["task_id"] = os.environ["FUZZ_TASK_ID"]


def is_protected(operation) -> bool:
    """Whether the document says the operation needs a key: its own `security`, else the document's, names a scheme."""
    requirements = operation.definition.raw.get("security", operation.schema.raw_schema.get("security", []))
    return any(requirements)


def is_public(case) -> bool:
    """Whether the case calls a public operation: one whose document says it needs no key, by its own method (or HEAD
    for GET). Another method on a public path (TRACE /health) is no operation, and needs a key."""
    method, documented = case.method.upper(), case.operation.method.upper()
    return not is_protected(case.operation) and method in {documented, "HEAD" if documented == "GET" else documented}


def refused_without_a_key(ctx, response, case):
    """Without a key, every request but a public operation's answers 401, and no public one does, whatever else the
    request holds (docs/api.md § Authentication)."""
    if not is_public(case) and response.status_code != 401:
        raise AssertionError(f"{case.method} {case.path} needs a key, and answered {response.status_code} without one")
    if is_public(case) and response.status_code == 401:
        raise AssertionError(f"{case.method} {case.path} is public, and answered 401")
    return None


def carries_the_key(case) -> bool:
    """Whether the case sends the run's key (FUZZ_API_KEY) as it is, rather than a value Schemathesis made up."""
    return (case.headers or {}).get("Authorization") == f"Bearer {os.environ.get('FUZZ_API_KEY')}"


def the_key_is_taken(ctx, response, case):
    """With a key, a request that sends it as it is never gets 401 or 403: the key is a writer's."""
    if carries_the_key(case) and response.status_code in (401, 403):
        raise AssertionError(f"{case.method} {case.path} refused the run's key: {response.status_code}")
    return None


# Each run's own check (e2e/test_fuzz.py sets FUZZ_API_KEY or FUZZ_WITHOUT_KEY).
if os.environ.get("FUZZ_WITHOUT_KEY"):
    schemathesis.check(refused_without_a_key)
if os.environ.get("FUZZ_API_KEY"):
    schemathesis.check(the_key_is_taken)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Two failures that are none, and nothing else:
    - OPTIONS describes a route, not one resource (docs/api.md): it answers 204 for a request that was deleted too,
      which Schemathesis' use-after-free check (ST301) would call a deleted resource still available.
    - With a key, Schemathesis sometimes sends an Authorization of its own making in a case it takes for valid (any
      string fits the bearer scheme; the key's shape is in docs/api.md, not in what OpenAPI can say): the service
      rightly answers 401, which the check that valid data is accepted (ST202) would report. the_key_is_taken checks
      instead that the key itself is never refused."""
    if case.method.upper() == "OPTIONS" and failure.code == "ST301":
        return False
    made_up = failure.code == "ST202" and response is not None and response.status_code == 401
    return not (made_up and not carries_the_key(case))
