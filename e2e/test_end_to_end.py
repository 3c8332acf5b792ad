"""The two services together, as deployed: real processes on loopback, real databases, the requests service's
TASKS_URL pointing at the real tasks service, the tasks service's callers with their throwaway keys, and both services
shipping their logs to local receivers."""

import base64
import hashlib
import json
import secrets
import time

import psycopg2
from calls import call, create_task, needs_requests_key
from system import LOGSENE_TOKEN

NO_SUCH_TASK = "0123456789abcdef01234567"  # a well-formed MongoDB id that no task has


def ask_for(system, task_id: str) -> tuple[int, object]:
    return call("POST", f"{system.requests_url}/requests", {"task_id": task_id, "requester": "ana"})


def count_requests(database_url: str) -> int:
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM requests")
            return cursor.fetchone()[0]
    finally:
        connection.close()


def wait_for_entry(path, matches, timeout: float = 5) -> dict:
    """The first JSON line of a receiver's file that `matches`, waiting for it to arrive."""
    deadline = time.monotonic() + timeout
    while True:
        entries = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        found = next((entry for entry in entries if matches(entry)), None)
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"nothing matching in {path} after {timeout} s; it has:\n" + "\n".join(
            json.dumps(entry) for entry in entries[-10:]
        )
        time.sleep(0.1)


def new_key() -> str:
    """A key as docs/api.md shapes them: msk_ and 32 random bytes in unpadded base64url."""
    return "msk_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def key_material_in(text: str, keys: dict[str, str]) -> list[str]:
    """Which of `keys` (by name) `text` holds: the key, ten characters of its random part in a row, or its digest."""
    found = []
    for name, key in keys.items():
        random = key.removeprefix("msk_")
        fragments = (random[at : at + 10] for at in range(len(random) - 9))
        if any(fragment in text for fragment in fragments) or hashlib.sha256(key.encode()).hexdigest() in text:
            found.append(name)
    return found


def test_the_tasks_service_serves_its_callers_only_and_logs_who_called(system):
    sentinel = new_key()  # well formed, and no caller's
    tasks = f"{system.tasks_url}/tasks"
    answers = []

    def answer(method: str, url: str, key: str | None, body: dict | None = None) -> tuple[int, object]:
        status, body = call(method, url, body, key)
        answers.append(json.dumps(body))
        return status, body

    # Public without a key; everything else needs one, whatever the path.
    assert answer("GET", f"{system.tasks_url}/health", None)[0] == 200
    assert answer("GET", f"{system.tasks_url}/openapi.json", sentinel)[0] == 200
    for method, url in (("GET", tasks), ("POST", tasks), ("GET", f"{system.tasks_url}/nope")):
        status, refused = answer(method, url, None, {"title": "no key"} if method == "POST" else None)
        assert (status, refused["details"][0]["message"]) == (401, "a key is required: Authorization: Bearer <key>")
    status, refused = answer("GET", tasks, sentinel)
    assert (status, refused["details"][0]["message"]) == (401, "is not a known key")

    # The local caller writes; the requests service's key reads and is refused a write.
    status, task = answer("POST", tasks, system.tasks_key, {"title": "Guard the gate"})
    assert status == 201, task
    requests_key = system.requests_key_file.read_text().strip()
    assert answer("GET", f"{tasks}/{task['id']}", requests_key)[0] == 200
    status, refused = answer("DELETE", f"{tasks}/{task['id']}", requests_key)
    assert (status, refused["details"]) == (403, [{"message": "caller requests may only read"}])

    # Logsene lines go out in batches every 20 s, and on SIGTERM: a restart flushes them now.
    system.stop_tasks()
    system.start_tasks()
    wait_for_entry(system.logsene_file, lambda e: e["document"].get("path") == f"/tasks/{task['id']}")
    lines = [json.loads(line)["document"] for line in system.logsene_file.read_text().splitlines()]

    def callers(method: str, path: str, status: int) -> set:
        answered = [line for line in lines if (line.get("method"), line.get("path")) == (method, path)]
        return {line["caller"] for line in answered if line.get("status") == status}

    assert callers("POST", "/tasks", 201) >= {"local"}
    assert callers("GET", f"/tasks/{task['id']}", 200) == {"requests"}
    assert callers("DELETE", f"/tasks/{task['id']}", 403) == {"requests"}
    assert callers("GET", "/tasks", 401) == {None}
    assert callers("GET", "/nope", 401) == {None}
    assert callers("GET", "/openapi.json", 200) == {None}
    assert all("caller" in d for d in lines if d.get("message") == "request")

    # No key, nor a part of one, nor a digest, in any log of either service or in any answer.
    keys = {"the sentinel": sentinel, "local": system.tasks_key, "requests": requests_key}
    for log in sorted(system.logs_dir.iterdir()):
        assert key_material_in(log.read_text(errors="replace"), keys) == [], log
    assert key_material_in("\n".join(answers), keys) == []


@needs_requests_key
def test_a_request_follows_its_task_from_creation_to_deletion(system):
    # 1. A task.
    status, task = call(
        "POST", f"{system.tasks_url}/tasks", {"title": "Paint the fence", "description": "white"}, system.tasks_key
    )
    assert status == 201, task
    assert task["title"] == "Paint the fence"

    # 2. A request for it: the requests service asked the tasks service, which knows the task.
    status, created = call(
        "POST", f"{system.requests_url}/requests", {"task_id": task["id"], "requester": "ana", "note": "by Friday"}
    )
    assert status == 201, created
    assert created["task_id"] == task["id"]
    assert created["status"] == "pending"

    # 3. A request for a task the tasks service does not have.
    status, refused = ask_for(system, NO_SUCH_TASK)
    assert status == 422, refused
    assert [d["field"] for d in refused["details"]] == ["task_id"]

    # 4. Approval.
    request_url = f"{system.requests_url}/requests/{created['id']}"
    status, approved = call("PATCH", request_url, {"status": "approved"})
    assert status == 200, approved
    assert call("GET", request_url)[1]["status"] == "approved"

    # 5. Once the task is deleted (docs/api.md, §Tasks and requests): new requests for it are refused, a pending one
    #    cannot be approved (409 naming task_id, unchanged) but can be rejected, and every one is still listed.
    status, second = ask_for(system, task["id"])
    assert status == 201, second
    status, _ = call("DELETE", f"{system.tasks_url}/tasks/{task['id']}", key=system.tasks_key)
    assert status == 204
    status, refused = ask_for(system, task["id"])
    assert status == 422, refused
    second_url = f"{system.requests_url}/requests/{second['id']}"
    status, refused = call("PATCH", second_url, {"status": "approved"})
    assert status == 409, refused
    assert [d["field"] for d in refused["details"]] == ["task_id"]
    assert call("GET", second_url)[1] == second
    status, rejected = call("PATCH", second_url, {"status": "rejected"})
    assert status == 200, rejected
    status, listed = call("GET", f"{system.requests_url}/requests?task_id={task['id']}")
    assert status == 200, listed
    assert [item["id"] for item in listed["items"]] == [second["id"], created["id"]]  # newest first
    assert listed["next"] is None
    assert call("DELETE", second_url)[0] == 204


@needs_requests_key
def test_while_tasks_is_down_requests_answers_503_and_writes_nothing_then_recovers(system):
    task_id = create_task(system, "Fix the gate")

    # 6. The tasks service stopped: a clear 503, and no row.
    system.stop_tasks()
    try:
        rows_before = count_requests(system.database_url)
        status, refused = ask_for(system, task_id)
        assert status == 503, refused
        assert refused["error"] == "tasks service unavailable"
        assert count_requests(system.database_url) == rows_before
    finally:
        # 7. The tasks service back (on the same address): the flow works again, without restarting requests.
        system.start_tasks()

    status, created = ask_for(system, task_id)
    assert status == 201, created
    status, approved = call("PATCH", f"{system.requests_url}/requests/{created['id']}", {"status": "approved"})
    assert status == 200, approved
    status, created = ask_for(system, create_task(system, "Oil the hinges"))
    assert status == 201, created


def test_the_tasks_services_logs_reach_logsene(system):
    # 8. Traffic of this test's own.
    create_task(system, "Sweep the yard")
    # Logsene lines go out in batches every 20 s, and on SIGTERM: a restart flushes them now.
    system.stop_tasks()
    system.start_tasks()

    # tasks -> Logsene's bulk API, every document under the token's index.
    document = wait_for_entry(
        system.logsene_file,
        lambda e: e["document"].get("path") == "/tasks" and e["document"].get("status") == 201,
    )
    assert (document["document"]["method"], document["document"]["caller"]) == ("POST", "local")
    indexes = {json.loads(line)["index"] for line in system.logsene_file.read_text().splitlines()}
    assert indexes == {LOGSENE_TOKEN}


def test_the_requests_services_logs_reach_papertrail(system):
    status, listed = call("GET", f"{system.requests_url}/requests?requester=rake")
    assert status == 200, listed

    # requests -> Papertrail over syslog on TLS (RFC 5424: <PRI>1 TIMESTAMP HOST APP-NAME ...), with its app name.
    line = wait_for_entry(system.papertrail_file, lambda e: "GET /requests 200" in e["message"])
    assert line["message"].split(" ")[3] == "requests", line
    assert line["transport"] == "tls", line
