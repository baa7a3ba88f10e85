#!/usr/bin/env bash
# Publish one case's opening from a case system over HTTP: POST /intake/events on the allocation
# service, with a bearer token of role `case-system` whose principal is the service code.
#
#   QAF_TOKEN=qaf_... examples/publish_curl.sh C-10042 first-response
#
# Environment: QAF_TOKEN (required; `qaf-allocation tokens create --principal first-response
# --role case-system`), QAF_INTAKE_URL (default http://127.0.0.1:8001).
# Prints the receipt: {"accepted":1,"event_ids":["..."]}. Exit status 22 when the intake refuses.
set -euo pipefail

case_id="${1:?usage: publish_curl.sh CASE_ID [SERVICE]}"
service="${2:-first-response}"
url="${QAF_INTAKE_URL:-http://127.0.0.1:8001}"
: "${QAF_TOKEN:?set QAF_TOKEN to a case-system token}"

new_uuid() {
  if command -v uuidgen >/dev/null; then uuidgen
  elif [ -r /proc/sys/kernel/random/uuid ]; then cat /proc/sys/kernel/random/uuid
  else python3 -c 'import uuid; print(uuid.uuid4())'
  fi
}

now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
today="$(date -u +%Y-%m-%d)"

# The envelope: event_id is the idempotency key (post the same one twice, it is taken once);
# occurred_at is when it happened in the world; the payload carries opaque ids only, never names.
curl --fail-with-body --silent --show-error \
  -X POST "$url/intake/events" \
  -H "Authorization: Bearer $QAF_TOKEN" \
  -H "Content-Type: application/json" \
  --data @- <<JSON
{
  "event_id": "$(new_uuid)",
  "event_type": "case-opened",
  "schema_version": 1,
  "occurred_at": "$now",
  "recorded_at": "$now",
  "source": "case-system",
  "correlation_id": "$(new_uuid)",
  "causation_id": null,
  "payload": {
    "case_id": "$case_id",
    "service": "$service",
    "team_id": "T-FR-1",
    "worker_id": "W-0107",
    "team_manager_id": "M-0012",
    "legal_status": "child-in-need",
    "opened_on": "$today"
  }
}
JSON
echo
