-- Issue 30 (the operator's day): the open cases whose last alert reached nobody, for the Prometheus
-- gauges (activities/gauges.py UNREACHED) without reading every case's status.
CREATE INDEX IF NOT EXISTS cases_unreached_idx ON cases (case_id)
    WHERE jsonb_array_length(coalesce(status->'unreached', '[]'::jsonb)) > 0;
