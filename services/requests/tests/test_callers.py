"""The callers file: each rule's refusal as the service prints it at start (naming the caller and the rule, never a
digest), the service's own key to the tasks service, and finding a key's caller with a constant-time comparison against
every stored digest."""

import json
import re

import pytest
from keys import READER, UNKNOWN_KEY, WRITER, callers_file, digest, key_material_in, new_key
from support import refused_start

from requests_service import callers as callers_module
from requests_service.callers import KEY, Caller, Callers
from requests_service.config import ConfigError, load_config

GOOD = {"DATABASE_URL": "postgres://u@db/requests", "TASKS_URL": "http://10.0.1.5:8080", "TASKS_API_KEY": new_key()}
DIGEST_FRAGMENT = 8  # a run of this many characters of a digest in a message is a part of it
FORMAT = '{"callers": {"<caller id>": {"access": "read" or "write", "keys": ["<sha256 hex>", ...]}}}'
ENTRY = '{"access": "read" or "write", "keys": ["<sha256 hex>", ...]}'


def problems_of(api_keys) -> list[str]:
    """What load_config says of `api_keys` as API_KEYS: every problem, each checked for keys and parts of digests."""
    text = api_keys if isinstance(api_keys, str) else json.dumps(api_keys)
    with pytest.raises(ConfigError) as caught:
        load_config({**GOOD, "API_KEYS": text})
    said = str(caught.value)
    assert key_material_in(said) == [], said
    for hex_digest in re.findall(r"[0-9a-fA-F]{64}", text):
        fragments = {hex_digest[at : at + DIGEST_FRAGMENT] for at in range(len(hex_digest) - DIGEST_FRAGMENT + 1)}
        assert not [fragment for fragment in fragments if fragment in said], said
    return caught.value.problems


def test_keys_have_the_shape_of_the_contract():
    for _ in range(100):
        key = new_key()
        assert KEY.fullmatch(key)
        assert len(key) == 47


def test_it_reads_the_callers_their_access_and_their_keys():
    callers = Callers.parse(callers_file(WRITER, READER))
    for key in WRITER.keys:
        assert callers.find(key) == Caller("ci", "write")
    assert callers.find(READER.keys[0]) == Caller("mobile-app", "read")
    assert callers.find(UNKNOWN_KEY) is None
    assert callers.find("") is None


GOOD_DIGEST, OTHER = digest(new_key()), digest(new_key())
REFUSED = [
    (
        "text that is not JSON (a digest not quoted)",
        f'{{"callers": {{"ci": {{"access": "write", "keys": [x{GOOD_DIGEST}]}}}}}}',
        [f"API_KEYS: is not valid JSON: it must be {FORMAT}"],
    ),
    ("a list", [GOOD_DIGEST], [f"API_KEYS: must be {FORMAT}, with no other field"]),
    (
        "a field beside callers",
        {"callers": {"ci": {"access": "write", "keys": [GOOD_DIGEST]}}, GOOD_DIGEST: 1},
        [f"API_KEYS: must be {FORMAT}, with no other field"],
    ),
    ("no caller", {"callers": {}}, ["API_KEYS: names no caller: a service needs at least one"]),
    (
        "a caller id in capitals",
        {"callers": {"ci": {"access": "read", "keys": [GOOD_DIGEST]}, "Mobile": {"access": "read", "keys": [OTHER]}}},
        ["API_KEYS: caller number 2: its id must be 1 to 64 of a-z, 0-9 and -, starting with a letter"],
    ),
    (
        "a caller id that is a digest with a digit first",
        {"callers": {f"0{GOOD_DIGEST[1:]}": {"access": "read", "keys": [OTHER]}}},
        ["API_KEYS: caller number 1: its id must be 1 to 64 of a-z, 0-9 and -, starting with a letter"],
    ),
    (
        "a caller id of 65 characters",
        {"callers": {"a" + "b" * 64: {"access": "read", "keys": [GOOD_DIGEST]}}},
        ["API_KEYS: caller number 1: its id must be 1 to 64 of a-z, 0-9 and -, starting with a letter"],
    ),
    (
        "a caller that is a list",
        {"callers": {"ci": [GOOD_DIGEST]}},
        [f"API_KEYS: caller ci: must be {ENTRY}, with no other field"],
    ),
    (
        "an unknown field",
        {"callers": {"ci": {"access": "write", "keys": [GOOD_DIGEST], "note": GOOD_DIGEST}}},
        [f"API_KEYS: caller ci: must be {ENTRY}, with no other field"],
    ),
    (
        "another access",
        {"callers": {"ci": {"access": "admin", "keys": [GOOD_DIGEST]}}},
        ['API_KEYS: caller ci: access must be "read" or "write"'],
    ),
    (
        "no access",
        {"callers": {"ci": {"keys": [GOOD_DIGEST]}}},
        ['API_KEYS: caller ci: access must be "read" or "write"'],
    ),
    (
        "no keys",
        {"callers": {"ci": {"access": "read", "keys": []}}},
        ["API_KEYS: caller ci: keys must list 1 or 2 digests (2 only while a key is rotated)"],
    ),
    (
        "three keys",
        {"callers": {"ci": {"access": "read", "keys": [GOOD_DIGEST, OTHER, digest(new_key())]}}},
        ["API_KEYS: caller ci: keys must list 1 or 2 digests (2 only while a key is rotated)"],
    ),
    (
        "a digest in capitals",
        {"callers": {"ci": {"access": "read", "keys": [GOOD_DIGEST.upper()]}}},
        ["API_KEYS: caller ci: keys[0] must be a SHA-256 digest: 64 lowercase hexadecimal characters"],
    ),
    (
        "a digest one character short",
        {"callers": {"ci": {"access": "read", "keys": [GOOD_DIGEST, OTHER[1:]]}}},
        ["API_KEYS: caller ci: keys[1] must be a SHA-256 digest: 64 lowercase hexadecimal characters"],
    ),
    (
        "a key instead of its digest",
        {"callers": {"ci": {"access": "read", "keys": [WRITER.keys[0]]}}},
        ["API_KEYS: caller ci: keys[0] is a key, not its digest: store the SHA-256 of the key, never the key"],
    ),
    (
        "one digest twice",
        {"callers": {"ci": {"access": "read", "keys": [GOOD_DIGEST, GOOD_DIGEST]}}},
        ["API_KEYS: caller ci: keys[1] repeats a digest of the same caller"],
    ),
    (
        "one digest for two callers",
        {
            "callers": {
                "ci": {"access": "write", "keys": [GOOD_DIGEST]},
                "requests": {"access": "read", "keys": [OTHER, GOOD_DIGEST]},
            }
        },
        ["API_KEYS: caller requests: keys[1] is also a digest of caller ci: a digest may belong to one caller only"],
    ),
]


@pytest.mark.parametrize(("file", "expected"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_a_broken_rule_is_refused_saying_so_without_a_digest(file, expected):
    assert problems_of(file) == expected


def test_every_problem_of_every_caller_is_listed_at_once():
    problems = problems_of({"callers": {"ci": {"access": "all", "keys": [GOOD_DIGEST, "x"]}, "r": {"access": "read"}}})
    assert problems == [
        'API_KEYS: caller ci: access must be "read" or "write"',
        "API_KEYS: caller ci: keys[1] must be a SHA-256 digest: 64 lowercase hexadecimal characters",
        "API_KEYS: caller r: keys must list 1 or 2 digests (2 only while a key is rotated)",
    ]


def test_without_callers_the_service_does_not_start():
    with pytest.raises(ConfigError, match=r"API_KEYS: required but not set; set it \(or API_KEYS_FILE\)"):
        load_config(GOOD)


@pytest.mark.parametrize(
    "value", [None, "", "secret-key", "msk_short", new_key() + "A", "Bearer " + new_key(), new_key().upper()]
)
def test_the_key_to_the_tasks_service_is_required_and_shaped(value):
    environ = {**GOOD, "API_KEYS": callers_file(WRITER)}
    if value is None:
        del environ["TASKS_API_KEY"]
    else:
        environ["TASKS_API_KEY"] = value
    with pytest.raises(ConfigError, match="TASKS_API_KEY: ") as caught:
        load_config(environ)
    if value:
        assert value not in str(caught.value)
        assert value.removeprefix("Bearer ")[4:14] not in str(caught.value)


def test_the_key_to_the_tasks_service_comes_from_its_file(tmp_path):
    key = new_key()
    (tmp_path / "key").write_text(key + "\n")
    environ = {**GOOD, "API_KEYS": callers_file(WRITER), "TASKS_API_KEY": ""}
    environ["TASKS_API_KEY_FILE"] = str(tmp_path / "key")
    assert load_config(environ)["TASKS_API_KEY"] == key


def test_gunicorn_refuses_to_start_with_a_broken_callers_file(tmp_path):
    # As the hosts run it, from API_KEYS_FILE: the message names the file's variable and the rule, never a digest.
    (tmp_path / "callers.json").write_text(json.dumps({"callers": {"ci": {"access": "admin", "keys": [GOOD_DIGEST]}}}))
    output = refused_start(API_KEYS="", API_KEYS_FILE=str(tmp_path / "callers.json"), DATABASE_URL="postgres://u@h/d")
    assert 'API_KEYS: caller ci: access must be "read" or "write"' in output
    assert GOOD_DIGEST[:DIGEST_FRAGMENT] not in output


def test_a_key_is_compared_with_every_stored_digest_in_constant_time(monkeypatch):
    callers = Callers.parse(callers_file(WRITER, READER))
    stored = [bytes.fromhex(digest(key)) for key in (*WRITER.keys, *READER.keys)]
    compared = []

    def compare_digest(presented, against):
        compared.append((presented, against))
        return presented == against

    monkeypatch.setattr(callers_module.hmac, "compare_digest", compare_digest)
    for key in (WRITER.keys[0], READER.keys[0], UNKNOWN_KEY):
        compared.clear()
        callers.find(key)
        assert compared == [(bytes.fromhex(digest(key)), each) for each in stored], "every digest, through hmac"
