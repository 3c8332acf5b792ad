"""The database goes away and comes back: 503s meanwhile, then the same process serves again, with no restart.

These tests stop and start a PostgreSQL cluster of their own (never the shared one).
"""

TASK = "e" * 24


def assert_503_json(response):
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["error"] == "database unavailable"
    assert response.get_json()["details"]


def test_database_stopped_mid_test_then_restarted(make_app, tasks, cluster):
    tasks.known.add(TASK)
    client = make_app(DATABASE_URL=cluster.url).test_client()
    created = client.post("/requests", json={"task_id": TASK, "requester": "ana"})
    assert created.status_code == 201

    # A restart between two requests: the pooled connection the server closed is dropped, not used.
    cluster.stop()
    cluster.start()
    assert client.get("/health").status_code == 200
    assert client.get("/requests/1").status_code == 200

    cluster.stop()
    health = client.get("/health")
    assert health.status_code == 503
    assert health.get_json()["database"] == "unreachable"
    assert_503_json(client.get("/requests"))
    assert_503_json(client.get("/requests/1"))
    assert_503_json(client.post("/requests", json={"task_id": TASK, "requester": "bo"}))
    assert_503_json(client.patch("/requests/1", json={"status": "approved"}))
    assert_503_json(client.delete("/requests/1"))
    assert client.get("/health").status_code == 503  # still down, still answering

    cluster.start()
    assert client.get("/health").status_code == 200
    listed = client.get("/requests").get_json()
    assert [r["requester"] for r in listed["items"]] == ["ana"]  # the failed POST wrote nothing
    assert client.patch("/requests/1", json={"status": "approved"}).status_code == 200
    assert client.post("/requests", json={"task_id": TASK, "requester": "bo"}).status_code == 201


def test_start_while_the_database_is_down(make_app, tasks, cluster):
    # The app starts anyway (the schema waits), reports 503, and creates the schema once the database is back.
    cluster.stop()
    client = make_app(DATABASE_URL=cluster.url).test_client()
    assert client.get("/health").status_code == 503
    assert_503_json(client.get("/requests"))

    cluster.start()
    tasks.known.add(TASK)
    assert client.get("/health").status_code == 200
    assert client.post("/requests", json={"task_id": TASK, "requester": "ana"}).status_code == 201
    assert client.get("/requests").get_json()["total"] == 1
