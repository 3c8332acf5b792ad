"""The callers file (docs/api.md § Authentication): who may call the service, with which access, by the SHA-256 digests
of their keys. The service never holds a key. Every problem names the caller and the rule, never a digest."""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass

KEY = re.compile(r"msk_[A-Za-z0-9_-]{43}")  # `msk_` and 32 random bytes in unpadded base64url
DIGEST = re.compile(r"[0-9a-f]{64}")
CALLER_ID = re.compile(r"[a-z][a-z0-9-]{0,63}")
ACCESSES = ("read", "write")
KEYS_MAX = 2
FORMAT = '{"callers": {"<caller id>": {"access": "read" or "write", "keys": ["<sha256 hex>", ...]}}}'
ENTRY_FORMAT = '{"access": "read" or "write", "keys": ["<sha256 hex>", ...]}'


class CallersError(ValueError):
    """A callers file that breaks the rules; `problems` lists every one."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Caller:
    id: str
    access: str


def digest_of(key: str) -> bytes:
    """The SHA-256 of a key's ASCII bytes: what the callers file stores."""
    return hashlib.sha256(key.encode("ascii")).digest()


class Callers:
    """The callers a service knows: each stored digest with its caller."""

    def __init__(self, entries: list[tuple[bytes, Caller]]):
        self._entries = entries

    @classmethod
    def parse(cls, text: str) -> "Callers":
        """Read a callers file's JSON text; raises CallersError listing every problem."""
        try:
            document = json.loads(text)
        except ValueError:
            # The parser's message quotes the text, which holds digests.
            raise CallersError([f"is not valid JSON: it must be {FORMAT}"]) from None
        callers = document.get("callers") if isinstance(document, dict) and len(document) == 1 else None
        if not isinstance(callers, dict):
            raise CallersError([f"must be {FORMAT}, with no other field"])
        if not callers:
            raise CallersError(["names no caller: a service needs at least one"])
        problems: list[str] = []
        entries: list[tuple[bytes, Caller]] = []
        owners: dict[str, str] = {}
        for number, (caller_id, entry) in enumerate(callers.items(), start=1):
            found, caller_problems = _check_caller(caller_id, number, entry, owners)
            problems += caller_problems
            entries += found
        if problems:
            raise CallersError(problems)
        return cls(entries)

    def find(self, key: str) -> Caller | None:
        """The caller whose key this is, or None. Compares the key's digest with every stored digest in constant time,
        never stopping at a match, so the time taken says nothing about which digest, or how much of one, matched."""
        digest = digest_of(key)
        found = None
        for stored, caller in self._entries:
            if hmac.compare_digest(digest, stored):
                found = caller
        return found


def _check_caller(caller_id: str, number: int, entry, owners: dict[str, str]) -> tuple[list, list[str]]:
    """One caller's digests and problems (no digest when it has one); `owners` maps each digest seen so far in the
    file to its caller."""
    # An id that breaks the rule is named by its place: it could hold anything, a digest included.
    if not CALLER_ID.fullmatch(caller_id):
        return [], [f"caller number {number}: its id must be 1 to 64 of a-z, 0-9 and -, starting with a letter"]
    about = f"caller {caller_id}:"
    if not isinstance(entry, dict) or set(entry) - {"access", "keys"}:
        return [], [f"{about} must be {ENTRY_FORMAT}, with no other field"]
    access = entry.get("access")
    problems = [] if access in ACCESSES else [f'{about} access must be "read" or "write"']
    keys = entry.get("keys")
    if not isinstance(keys, list) or not 1 <= len(keys) <= KEYS_MAX:
        return [], [*problems, f"{about} keys must list 1 or 2 digests (2 only while a key is rotated)"]
    digests = []
    for at, digest in enumerate(keys):
        name = f"{about} keys[{at}]"
        if isinstance(digest, str) and KEY.fullmatch(digest):
            problems.append(f"{name} is a key, not its digest: store the SHA-256 of the key, never the key")
        elif not isinstance(digest, str) or not DIGEST.fullmatch(digest):
            problems.append(f"{name} must be a SHA-256 digest: 64 lowercase hexadecimal characters")
        elif owners.get(digest) == caller_id:
            problems.append(f"{name} repeats a digest of the same caller")
        elif digest in owners:
            owner = owners[digest]
            problems.append(f"{name} is also a digest of caller {owner}: a digest may belong to one caller only")
        else:
            owners[digest] = caller_id
            digests.append(digest)
    if problems:
        return [], problems
    caller = Caller(caller_id, access)
    return [(bytes.fromhex(digest), caller) for digest in digests], []
