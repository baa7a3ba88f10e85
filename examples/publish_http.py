"""Publish case events from a case system over HTTP, with httpx.

    QAF_TOKEN=qaf_... python examples/publish_http.py --service first-response C-20001 C-20002

Opens each case, records a change of worker on the first, and closes the last one: three kinds of
event in one all-or-nothing batch to `POST /intake/events` on the allocation service. The token has
role `case-system` and its principal is the service code (`qaf-allocation tokens create --principal
first-response --role case-system`): a case system publishes for its own service only.

Each envelope gets its `event_id` once, before the first attempt, so a retry after a timeout or a
5xx sends the same ids and the intake takes them once. Prints the receipt as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx


def envelope(event_type: str, payload: dict[str, Any], *, correlation_id: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "event_id": str(uuid.uuid4()),  # the idempotency key
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": now,  # event time: when it happened in the case system
        "recorded_at": now,
        "source": "case-system",
        "correlation_id": correlation_id,
        "causation_id": None,
        "payload": payload,  # opaque ids only: the contracts refuse unknown fields and names
    }


def case_events(service: str, case_ids: list[str], today: date) -> list[dict[str, Any]]:
    correlation_id = str(uuid.uuid4())  # one business transaction: this sync from the case system
    team = {"team_id": "T-01", "worker_id": "W-0101", "team_manager_id": "M-0010", "legal_status": "child-in-need"}
    events = [
        envelope("case-opened", {"case_id": case_id, "service": service, **team, "opened_on": today.isoformat()},
                 correlation_id=correlation_id)
        for case_id in case_ids
    ]
    # case-updated carries the case's current state in full: here a new allocated worker
    events.append(envelope("case-updated", {"case_id": case_ids[0], "service": service, **team, "worker_id": "W-0102"},
                           correlation_id=correlation_id))
    if len(case_ids) > 1:
        events.append(envelope("case-closed", {"case_id": case_ids[-1], "closed_on": today.isoformat()},
                               correlation_id=correlation_id))
    return events


def publish(url: str, token: str, events: list[dict[str, Any]], *, attempts: int = 5) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    # retries=2: httpx retries a refused or reset connection; the loop also retries 5xx and timeouts
    with httpx.Client(base_url=url, headers=headers, timeout=10, transport=httpx.HTTPTransport(retries=2)) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = client.post("/intake/events", json=events)
            except httpx.TransportError:
                if attempt == attempts:
                    raise
            else:
                if response.status_code < 500:
                    if response.status_code != 202:
                        # 401 bad token, 403 another service's case, 422 a contract broken (a reason per item)
                        sys.exit(f"refused ({response.status_code}): {response.text}")
                    return response.json()
            time.sleep(min(2**attempt * 0.1, 5))  # the same event ids again: taken once
    sys.exit("the intake did not answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case_ids", nargs="+", help="opaque case ids, e.g. C-20001")
    parser.add_argument("--service", default="first-response", help="the token's service code")
    parser.add_argument("--url", default=os.environ.get("QAF_INTAKE_URL", "http://127.0.0.1:8001"))
    parser.add_argument("--token", default=os.environ.get("QAF_TOKEN"), help="default: $QAF_TOKEN")
    args = parser.parse_args()
    if not args.token:
        parser.error("a case-system token is needed: --token or QAF_TOKEN")
    receipt = publish(args.url, args.token, case_events(args.service, args.case_ids, datetime.now(UTC).date()))
    print(json.dumps(receipt))


if __name__ == "__main__":
    main()
