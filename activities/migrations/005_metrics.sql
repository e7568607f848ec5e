-- Management metrics (issue 13): the index period filters use, the service reports, and the
-- quality targets' state, so that a threshold crossed alerts management exactly once.

-- Metrics select cases by when the customer reported (the SLA clocks start there too).
CREATE INDEX IF NOT EXISTS cases_received_at_idx ON cases (received_at);

CREATE TABLE service_reports (
    report_id  bigserial PRIMARY KEY,
    key        text        NOT NULL UNIQUE,      -- the run that wrote it (the workflow id)
    period     text        NOT NULL,             -- weekly, monthly, adhoc
    since      timestamptz NOT NULL,
    until      timestamptz NOT NULL,
    title      text        NOT NULL,
    summary    text        NOT NULL,
    markdown   text        NOT NULL,
    html       text        NOT NULL,
    charts     jsonb       NOT NULL DEFAULT '[]'::jsonb,   -- the chart titles the HTML carries
    metrics    jsonb       NOT NULL,
    empty      boolean     NOT NULL,
    at         timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX service_reports_at_idx ON service_reports (period, at DESC);

-- The level each target stands at now: ok, warning, missed, or no_data (too few cases to judge).
CREATE TABLE quality_target_states (
    target     text PRIMARY KEY,
    level      text             NOT NULL,
    value      double precision,
    since      timestamptz      NOT NULL,
    updated_at timestamptz      NOT NULL DEFAULT now()
);

-- One row per crossing into a worse level; `alerted_at` is set once management was told.
CREATE TABLE quality_crossings (
    crossing_id  bigserial PRIMARY KEY,
    target       text             NOT NULL,
    metric       text             NOT NULL,
    level        text             NOT NULL,     -- warning, missed
    previous     text             NOT NULL,
    value        double precision NOT NULL,
    threshold    double precision NOT NULL,
    window_since timestamptz      NOT NULL,
    window_until timestamptz      NOT NULL,
    at           timestamptz      NOT NULL DEFAULT now(),
    alerted_at   timestamptz
);
CREATE INDEX quality_crossings_pending_idx ON quality_crossings (crossing_id) WHERE alerted_at IS NULL;
