"""Schemathesis hooks of test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

A JSON Schema cannot say everything the server checks: that a route's driver and customers exist in the tenant,
that the visits' sequence numbers are unique, that a time window or a `from`/`to` range is not reversed, that a
fix is not from the future. The description states those rules in words (each is tested in Tests/HTTPTests);
here, and only for the cases schemathesis generates as *valid* (positive mode), the generated values are made to
obey them, so that "valid data must be accepted" is checked on everything else. Negative cases are left alone.
"""
import datetime
import os
import re
import zlib

import requests
import schemathesis

BASE = os.environ["TRACKER_FUZZ_BASE"]
TOKEN = os.environ["TRACKER_FUZZ_TOKEN"]

# `TimestampText` of openapi.yaml, with groups: the server's ISO-8601 grammar.
_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$"
)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def references(kind: str) -> list[str]:
    """Ids of the demo tenant's drivers or customers, read for each case: the run itself deletes customers."""
    path = {"drivers": "/api/drivers", "customers": "/api/customers"}[kind]
    response = requests.get(BASE + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    response.raise_for_status()
    ids = sorted(item["id"] for item in response.json())
    if not ids and kind == "customers":
        # The run deleted them all: one more, so that a valid route still has a customer to visit.
        created = requests.put(BASE + "/api/customers/fuzz-customer", json={"name": "Fuzz", "latitude": 0,
                               "longitude": 0}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        created.raise_for_status()
        ids = ["fuzz-customer"]
    return ids


def millis(value) -> int | None:
    """Epoch milliseconds of an `InputTimestamp` (None when it is neither form)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if value == int(value) else None
    if not isinstance(value, str):
        return None
    if re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    match = _TIMESTAMP.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, _, sign, offset_hours, offset_minutes = match.groups()
    instant = datetime.datetime(int(year), int(month), int(day), tzinfo=datetime.timezone.utc)
    offset = 0
    if sign:
        offset = (int(offset_hours) * 60 + int(offset_minutes or 0)) * (-1 if sign == "-" else 1)
    seconds = (instant - _EPOCH).days * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second) - offset * 60
    return seconds * 1000 + int((fraction or "0").ljust(3, "0")[:3])


def now_text() -> str:
    """The current time as Traccar writes it, a little in the past (fixes are not from the future)."""
    instant = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}+00:00"


def current_fix(position) -> None:
    if isinstance(position, dict) and "fixTime" in position:
        position["fixTime"] = now_text()


def ordered(container: dict, first: str, second: str, default_second) -> None:
    """Swaps `first` and `second` (or drops `first`) when `first` is after `second`."""
    if first not in container:
        return
    start, end = millis(container[first]), millis(container.get(second, default_second))
    if start is None or end is None or start <= end:
        return
    if second in container:
        container[first], container[second] = container[second], container[first]
    else:
        del container[first]


@schemathesis.hook
def map_case(context, case):
    return fit(case)


@schemathesis.hook
def before_add_examples(context, examples):
    """The examples phase builds its cases from the description's examples, without `map_case`."""
    for case in examples:
        fit(case)


def fit(case):
    """`case`, if generated as valid, changed to obey the rules the description states in words."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    body = case.body
    now_millis = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
    if operation == "POST /api/traccar/positions" and isinstance(body, dict):
        current_fix(body.get("position"))
    elif operation == "POST /api/traccar/events" and isinstance(body, dict):
        current_fix(body.get("position"))
    elif operation == "POST /api/routes" and isinstance(body, dict):
        drivers, customers = references("drivers"), references("customers")
        if "driverId" in body:
            body["driverId"] = drivers[zlib.crc32(str(body["driverId"]).encode()) % len(drivers)]
        visits = body.get("visits")
        if isinstance(visits, list):
            used: set[int] = set()
            for index, visit in enumerate(visits):
                if not isinstance(visit, dict):
                    continue
                if "customerId" in visit:
                    visit["customerId"] = customers[zlib.crc32(str(visit["customerId"]).encode()) % len(customers)]
                sequence = visit.get("sequenceNumber", index + 1)
                while sequence in used:
                    sequence = sequence % 2147483647 + 1
                used.add(sequence)
                if "sequenceNumber" in visit or sequence != index + 1:
                    visit["sequenceNumber"] = sequence
                window = visit.get("timeWindow")
                if isinstance(window, dict) and "start" in window and "end" in window:
                    ordered(window, "start", "end", None)
    elif operation == "GET /api/drivers/{id}/history" and isinstance(case.query, dict):
        ordered(case.query, "from", "to", now_millis)
    elif operation == "GET /api/drivers/{id}/stats" and isinstance(case.query, dict):
        query = case.query
        today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        if "from" in query and str(query["from"]) > str(query.get("to", today)):
            if "to" in query:
                query["from"], query["to"] = query["to"], query["from"]
            else:
                del query["from"]
    return case
