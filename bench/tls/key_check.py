"""The key check's own cost in the requests service: the key's shape (KEY) and Callers.find (SHA-256 of the key, then
hmac.compare_digest with every stored digest) from the service's callers module, with N stored digests. Prints one JSON
line per N: {digests, microseconds} a check, the median of 5 batches. Run by bench/tls/run.ts:
    PYTHONPATH=services/requests python key_check.py ITERATIONS N...
"""

import base64
import hashlib
import json
import secrets
import sys
import time

from requests_service.callers import KEY, Callers


def new_key() -> str:
    return "msk_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def measure(count: int, iterations: int) -> float:
    keys = [new_key() for _ in range(count)]
    digests = [hashlib.sha256(key.encode("ascii")).hexdigest() for key in keys]
    entries = {f"caller-{at}": {"access": "write", "keys": [digest]} for at, digest in enumerate(digests)}
    callers = Callers.parse(json.dumps({"callers": entries}))
    key = keys[-1]

    def batch() -> float:
        found = 0
        started = time.perf_counter_ns()
        for _ in range(iterations):
            if KEY.fullmatch(key) and callers.find(key):
                found += 1
        elapsed = time.perf_counter_ns() - started
        if found != iterations:
            raise SystemExit(f"the key was not found: {found} of {iterations}")
        return elapsed / 1000 / iterations

    batch()  # warm-up
    return sorted(batch() for _ in range(5))[2]


if __name__ == "__main__":
    iterations, *counts = (int(argument) for argument in sys.argv[1:])
    for count in counts:
        print(json.dumps({"digests": count, "microseconds": measure(count, iterations)}))
