"""POST /requests asks the tasks service first: unknown task 422; tasks down, slow or failing 503 with no row."""

import time

from support import execute, free_port, row_count

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


def assert_503_and_nothing_written(response, database_url, reason):
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "tasks service unavailable"
    assert reason in body["details"][0]["message"]
    assert "nothing was written" in body["details"][0]["message"]
    assert row_count(database_url) == 0


def test_tasks_service_down(make_app, database_url):
    app = make_app(TASKS_URL=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    execute(database_url, "TRUNCATE requests RESTART IDENTITY")
    response = app.test_client().post("/requests", json=BODY)
    assert_503_and_nothing_written(response, database_url, "unreachable")


def test_tasks_service_slow(client, tasks, database_url):
    tasks.known.add(TASK)
    tasks.mode, tasks.delay = "slow", 3.0  # TASKS_TIMEOUT is 0.5 s in these tests
    started = time.monotonic()
    response = client.post("/requests", json=BODY)
    elapsed = time.monotonic() - started
    assert_503_and_nothing_written(response, database_url, "did not answer within 0.5 s")
    assert elapsed < 2.0  # the short timeout, not the stand-in's delay


def test_tasks_service_answers_500(client, tasks, database_url):
    tasks.known.add(TASK)
    tasks.mode = "error"
    response = client.post("/requests", json=BODY)
    assert_503_and_nothing_written(response, database_url, "HTTP 500")


def test_tasks_url_with_a_trailing_slash(make_app, tasks, database_url):
    # TASKS_URL is a base URL; a trailing slash must not produce //tasks/...
    tasks.known.add(TASK)
    app = make_app(TASKS_URL=tasks.url + "/")
    execute(database_url, "TRUNCATE requests RESTART IDENTITY")
    assert app.test_client().post("/requests", json=BODY).status_code == 201
    assert tasks.seen == [f"/tasks/{TASK}"]


def test_service_recovers_when_the_tasks_service_does(client, tasks, database_url):
    tasks.known.add(TASK)
    tasks.mode = "error"
    assert client.post("/requests", json=BODY).status_code == 503
    tasks.mode = "normal"
    assert client.post("/requests", json=BODY).status_code == 201
    assert row_count(database_url) == 1
