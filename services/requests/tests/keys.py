"""The callers every test app and server knows, their keys, and the search for key material in what the tests collect.

Every request the tests send carries the writer's key unless a test says otherwise (the Flask test client, support.send
and support.http), so the writer's key is the sentinel: no answer (contract.check_response sees every one) and no log
a test reads may hold it, any part of it, or its digest. The same goes for the key the service sends to the tasks
stand-in."""

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass


def new_key() -> str:
    """A key as docs/api.md shapes them: msk_ and 32 random bytes in unpadded base64url."""
    return "msk_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


@dataclass(frozen=True)
class CallerKeys:
    id: str
    access: str
    keys: tuple[str, ...]


WRITER = CallerKeys("ci", "write", (new_key(), new_key()))  # two keys, as during a rotation
READER = CallerKeys("mobile-app", "read", (new_key(),))
UNKNOWN_KEY = new_key()  # well formed, and no caller's
WRITER_KEY = WRITER.keys[0]  # what the tests send by default
AUTHORIZATION = f"Authorization: Bearer {WRITER_KEY}"  # the header line of a raw request
TASKS_KEY = new_key()  # the service's own key to the tasks stand-in (TASKS_API_KEY)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def callers_file(*callers: CallerKeys) -> str:
    """The callers file naming `callers`, as a deployment writes it: digests only."""
    entries = {caller.id: {"access": caller.access, "keys": [digest(key) for key in caller.keys]} for caller in callers}
    return json.dumps({"callers": entries})


API_KEYS = callers_file(WRITER, READER)
SECRETS = (*WRITER.keys, *READER.keys, UNKNOWN_KEY, TASKS_KEY)
FRAGMENT = 10  # a run of this many characters of a key's random part is a leak: by chance, 64^10 makes it never happen


def key_material_in(text: str) -> list[str]:
    """What of the tests' keys `text` holds: a key, a fragment of one, or a digest (hex or base64); empty if none."""
    found = []
    for number, key in enumerate(SECRETS):
        random = key.removeprefix("msk_")
        if any(random[at : at + FRAGMENT] in text for at in range(len(random) - FRAGMENT + 1)):
            found.append(f"a part of test key {number}")
        raw = hashlib.sha256(key.encode()).digest()
        if raw.hex() in text or base64.b64encode(raw).decode() in text:
            found.append(f"the digest of test key {number}")
    return found
