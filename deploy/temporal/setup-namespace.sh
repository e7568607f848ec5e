#!/usr/bin/env bash
# One-shot, after the server is healthy (temporalio/admin-tools): the namespace of the cases and
# crisisdesk's search attributes (crisisdesk/names.py; tests/test_deploy.py checks the two agree).
# Idempotent: an existing namespace is kept, creating an existing attribute succeeds.
set -euo pipefail
: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required (the frontend, host:port)}"
: "${TEMPORAL_NAMESPACE:=default}" "${NAMESPACE_RETENTION:=30d}"
t() { temporal --address "$TEMPORAL_ADDRESS" "$@"; }

until t operator cluster health 2>/dev/null | grep -q SERVING; do
    echo "waiting for Temporal at $TEMPORAL_ADDRESS"; sleep 2
done
t operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1 \
    || t operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "$NAMESPACE_RETENTION"
# A namespace just created takes a moment to reach every frontend: retry until the attributes land.
for attempt in $(seq 1 30); do
    if t operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --type Keyword \
            --name CrisisStage --name CrisisSeverity --name CrisisCategory --name CrisisPath \
            --name CrisisProject --name CrisisRegion --name CrisisOwner \
       && t operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --type Datetime \
            --name CrisisNextDeadline \
       && t operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --type Bool \
            --name CrisisBreached --name CrisisContingency \
       && t operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --type Int \
            --name CrisisEngine; then
        echo "namespace $TEMPORAL_NAMESPACE ready with crisisdesk's search attributes"; exit 0
    fi
    echo "search attributes not registered yet (attempt $attempt)"; sleep 2
done
echo "could not register crisisdesk's search attributes in $TEMPORAL_NAMESPACE" >&2; exit 1
