"""The two services together, as deployed: real processes on loopback, real databases, the requests service's
TASKS_URL pointing at the real tasks service, and both services shipping their logs to local receivers."""

import json
import time

import psycopg2
from calls import call, create_task
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


def test_a_request_follows_its_task_from_creation_to_deletion(system):
    # 1. A task.
    status, task = call("POST", f"{system.tasks_url}/tasks", {"title": "Paint the fence", "description": "white"})
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
    status, _ = call("DELETE", f"{system.tasks_url}/tasks/{task['id']}")
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


def test_both_services_logs_reach_their_receivers(system):
    # 8. Traffic of this test's own on both services.
    task_id = create_task(system, "Sweep the yard")
    status, created = ask_for(system, task_id)
    assert status == 201, created
    # Logsene lines go out in batches every 20 s, and on SIGTERM: a restart flushes them now.
    system.stop_tasks()
    system.start_tasks()

    # requests -> Papertrail over syslog on TLS (RFC 5424: <PRI>1 TIMESTAMP HOST APP-NAME ...), with its app name.
    line = wait_for_entry(system.papertrail_file, lambda e: "POST /requests 201" in e["message"])
    assert line["message"].split(" ")[3] == "requests", line
    assert line["transport"] == "tls", line

    # tasks -> Logsene's bulk API, every document under the token's index.
    document = wait_for_entry(
        system.logsene_file,
        lambda e: e["document"].get("path") == "/tasks" and e["document"].get("method") == "POST",
    )
    assert document["document"]["status"] == 201
    indexes = {json.loads(line)["index"] for line in system.logsene_file.read_text().splitlines()}
    assert indexes == {LOGSENE_TOKEN}
