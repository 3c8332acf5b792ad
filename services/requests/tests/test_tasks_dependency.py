"""The tasks service, asked on create and on approval: unknown task 422 (create) or 409 (approval); tasks down, slow or
failing 503 with nothing changed; rejection and deletion never ask it."""

import time

import pytest
from support import TasksStandIn, execute, free_port, http, row_count, service_env, start_gunicorn, wait_healthy

TASK = "d" * 24
BODY = {"task_id": TASK, "requester": "ana"}


def test_unknown_task_is_422_naming_task_id(client, tasks, database_url):
    response = client.post("/requests", json=BODY)  # the stand-in knows no task
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "unknown task"
    assert body["details"][0]["field"] == "task_id"
    assert TASK in body["details"][0]["message"]
    assert tasks.seen == [f"/tasks/{TASK}"]
    assert row_count(database_url) == 0


def test_invalid_task_id_is_refused_before_asking_the_tasks_service(client, tasks):
    response = client.post("/requests", json={"task_id": "not-an-object-id", "requester": "ana"})
    assert response.status_code == 400
    assert tasks.seen == []


def assert_503_and_nothing_changed(response, reason):
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "tasks service unavailable"
    assert body["details"][0]["field"] == "task_id"
    assert reason in body["details"][0]["message"]
    assert "nothing was changed" in body["details"][0]["message"]


def test_tasks_service_down(make_app, database_url):
    app = make_app(TASKS_URL=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    execute(database_url, "TRUNCATE requests RESTART IDENTITY")
    response = app.test_client().post("/requests", json=BODY)
    assert_503_and_nothing_changed(response, "unreachable")
    assert row_count(database_url) == 0


def test_tasks_service_slow(client, tasks, database_url):
    tasks.known.add(TASK)
    tasks.mode, tasks.delay = "slow", 3.0  # TASKS_TIMEOUT is 0.5 s in these tests
    started = time.monotonic()
    response = client.post("/requests", json=BODY)
    elapsed = time.monotonic() - started
    assert_503_and_nothing_changed(response, "did not answer within 0.5 s")
    assert row_count(database_url) == 0
    assert elapsed < 2.0  # the short timeout, not the stand-in's delay


def test_tasks_service_answers_500(client, tasks, database_url):
    tasks.known.add(TASK)
    tasks.mode = "error"
    response = client.post("/requests", json=BODY)
    assert_503_and_nothing_changed(response, "HTTP 500")
    assert row_count(database_url) == 0


@pytest.mark.parametrize("answer", ["not JSON", "[]", '{"id": "eeeeeeeeeeeeeeeeeeeeeeee"}'])
def test_a_200_without_the_task_is_not_taken_for_one(client, tasks, database_url, answer):
    # A wrong TASKS_URL (another service, a proxy's page) answers 200 too.
    tasks.known.add(TASK)
    tasks.mode, tasks.answer = "fixed", answer
    assert_503_and_nothing_changed(client.post("/requests", json=BODY), "answered 200 without the task")
    assert row_count(database_url) == 0


def test_tasks_url_with_a_trailing_slash(make_app, tasks, database_url):
    # TASKS_URL is a base URL; a trailing slash must not produce //tasks/...
    tasks.known.add(TASK)
    app = make_app(TASKS_URL=tasks.url + "/")
    execute(database_url, "TRUNCATE requests RESTART IDENTITY")
    assert app.test_client().post("/requests", json=BODY).status_code == 201
    assert tasks.seen == [f"/tasks/{TASK}"]


@pytest.fixture
def proxy():
    """A server that records what reaches it as a proxy would, and answers 500 to all of it."""
    recorder = TasksStandIn()
    recorder.mode = "error"
    yield recorder
    recorder.close()


def test_the_tasks_service_is_called_directly_whatever_the_proxy_variables_say(database_url, tasks, proxy, tmp_path):
    # TASKS_URL is the tasks host's private address: an internal call, never sent through a proxy that the service's
    # environment names (a gunicorn started with them, as a container would be).
    variables = dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"), proxy.url)
    port = free_port()
    env = service_env(DATABASE_URL=database_url, TASKS_URL=tasks.url, PORT=str(port))
    env = {name: value for name, value in env.items() if name.lower() != "no_proxy"}
    proc = start_gunicorn({**env, **variables}, tmp_path / "gunicorn.log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        tasks.known.add(TASK)
        status, created = http("POST", f"http://127.0.0.1:{port}/requests", BODY)
        assert status == 201, created
        assert http("PATCH", f"http://127.0.0.1:{port}/requests/{created['id']}", {"status": "approved"})[0] == 200
    finally:
        proc.kill()
        proc.wait(10)
    assert tasks.seen == [f"/tasks/{TASK}", f"/tasks/{TASK}"]
    assert proxy.seen == []


def test_service_recovers_when_the_tasks_service_does(client, tasks, database_url):
    tasks.known.add(TASK)
    tasks.mode = "error"
    assert client.post("/requests", json=BODY).status_code == 503
    tasks.mode = "normal"
    assert client.post("/requests", json=BODY).status_code == 201
    assert row_count(database_url) == 1


# docs/api.md, §Tasks and requests: a request whose task was deleted can be rejected or deleted, never approved.
@pytest.fixture
def pending(client, tasks):
    tasks.known.add(TASK)
    created = client.post("/requests", json=BODY)
    assert created.status_code == 201
    tasks.seen.clear()
    return created.get_json()


def test_approval_asks_the_tasks_service(client, tasks, pending):
    response = client.patch(f"/requests/{pending['id']}", json={"status": "approved"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "approved"
    assert tasks.seen == [f"/tasks/{TASK}"]


def test_approval_of_a_deleted_task_is_409_and_changes_nothing(client, tasks, pending):
    tasks.known.clear()  # the task was deleted
    response = client.patch(f"/requests/{pending['id']}", json={"status": "approved"})
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "task no longer exists"
    assert [d["field"] for d in body["details"]] == ["task_id"]
    assert client.get(f"/requests/{pending['id']}").get_json() == pending


@pytest.mark.parametrize("mode", ["error", "slow"])
def test_approval_while_the_tasks_service_cannot_answer_is_503_and_changes_nothing(client, tasks, pending, mode):
    tasks.mode, tasks.delay = mode, 3.0
    response = client.patch(f"/requests/{pending['id']}", json={"status": "approved"})
    assert_503_and_nothing_changed(response, "did not answer" if mode == "slow" else "HTTP 500")
    tasks.mode = "normal"
    assert client.get(f"/requests/{pending['id']}").get_json() == pending


def test_rejection_and_deletion_never_ask_the_tasks_service(client, tasks, pending):
    tasks.known.clear()
    tasks.mode = "error"
    response = client.patch(f"/requests/{pending['id']}", json={"status": "rejected"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "rejected"
    assert client.delete(f"/requests/{pending['id']}").status_code == 204
    assert tasks.seen == []


def test_an_invalid_transition_is_refused_before_asking(client, tasks, pending):
    assert client.patch(f"/requests/{pending['id']}", json={"status": "rejected"}).status_code == 200
    tasks.seen.clear()
    response = client.patch(f"/requests/{pending['id']}", json={"status": "approved"})
    assert response.status_code == 409
    assert response.get_json()["details"][0]["field"] == "status"
    assert tasks.seen == []


def test_the_requests_of_a_deleted_task_are_still_listed(client, tasks, pending):
    tasks.known.clear()
    page = client.get(f"/requests?task_id={TASK}").get_json()
    assert [item["id"] for item in page["items"]] == [pending["id"]]
    assert tasks.seen == []
