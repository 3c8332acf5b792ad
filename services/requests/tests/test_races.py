"""Races on one request, with real concurrency on the real PostgreSQL: of two decisions sent at the same time, exactly
one wins and the other is a 409, and the stored request is the winner's answer. An approval asks the tasks service
first, with no transaction open, so the decision is checked again under the row lock (requests_api.change_status);
the tasks stand-in's small delay keeps both decisions past their first read before either takes the lock."""

import threading

import pytest

TASK = "4" * 24
ROUNDS = 10


@pytest.mark.parametrize("decisions", [("approved", "rejected"), ("approved", "approved")])
def test_of_two_decisions_at_once_exactly_one_wins(app, tasks, decisions):
    tasks.known.add(TASK)
    tasks.mode, tasks.delay = "slow", 0.2  # within the tests' TASKS_TIMEOUT of 0.5 s
    for _ in range(ROUNDS):
        created = app.test_client().post("/requests", json={"task_id": TASK, "requester": "ana"}).get_json()
        path = f"/requests/{created['id']}"
        start = threading.Barrier(len(decisions))
        answers = [None] * len(decisions)

        def decide(index, status, path=path, start=start, answers=answers):
            client = app.test_client()
            start.wait()
            answers[index] = client.patch(path, json={"status": status})

        threads = [threading.Thread(target=decide, args=(i, s)) for i, s in enumerate(decisions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(answer.status_code for answer in answers) == [200, 409]
        [winner] = [answer.get_json() for answer in answers if answer.status_code == 200]
        assert app.test_client().get(path).get_json() == winner
