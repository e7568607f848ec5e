-- The case store: the projection of each case, its timeline, and the outbox-style records of
-- everything activities did for it. Personal data lives only in `stakeholders`,
-- `notifications.recipients` and `survey_responses.comment`, so it can be purged in one place.

CREATE TABLE playbook_versions (
    name        text        NOT NULL,
    version     integer     NOT NULL,
    digest      text        NOT NULL,
    body        jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version, digest)
);

CREATE TABLE cases (
    case_id          text PRIMARY KEY,
    intake_id        text        NOT NULL,
    summary          text        NOT NULL,
    channel          text,
    project_id       text,
    project_name     text,
    region           text,
    playbook         text        NOT NULL,
    playbook_version integer     NOT NULL,
    playbook_digest  text,
    intake           jsonb,          -- the intake without the reporter's name and contact
    received_at      timestamptz,
    opened_at        timestamptz,
    stage            text        NOT NULL DEFAULT 'reported',
    path             text,
    severity         text,
    category         text,
    contingency      boolean     NOT NULL DEFAULT false,
    next_deadline    timestamptz,
    breached         boolean     NOT NULL DEFAULT false,
    status           jsonb,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX cases_stage_idx ON cases (stage);
CREATE INDEX cases_next_deadline_idx ON cases (next_deadline) WHERE next_deadline IS NOT NULL;

CREATE TABLE timeline_events (
    case_id     text        NOT NULL,
    seq         integer     NOT NULL,
    at          timestamptz NOT NULL,
    kind        text        NOT NULL,
    name        text        NOT NULL,
    by_person   text,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, seq)
);

CREATE TABLE stakeholders (
    stakeholder_id bigserial PRIMARY KEY,
    key            text        NOT NULL UNIQUE,
    case_id        text        NOT NULL,
    role           text        NOT NULL DEFAULT 'stakeholder',
    by_person      text,
    name           text,
    contact        text,
    unit           text,
    employer       text,
    household      text,
    intermediary   text,
    key_contact    boolean     NOT NULL DEFAULT false,
    concerns       text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    purged_at      timestamptz
);
CREATE INDEX stakeholders_case_idx ON stakeholders (case_id);

CREATE TABLE notifications (
    notification_id bigserial PRIMARY KEY,
    key             text        NOT NULL UNIQUE,
    case_id         text        NOT NULL,
    kind            text        NOT NULL,
    subject         text        NOT NULL,
    body            text        NOT NULL,
    recipients      jsonb       NOT NULL,   -- personal data: purged with the case's
    at              timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_case_idx ON notifications (case_id);

-- One row per notification and channel: what was delivered, so a retry never sends twice.
CREATE TABLE notification_deliveries (
    key        text        NOT NULL REFERENCES notifications (key) ON DELETE CASCADE,
    channel    text        NOT NULL,
    status     text        NOT NULL,       -- sent, failed (permanent), retrying (transient)
    delivered  integer     NOT NULL DEFAULT 0,
    failed     integer     NOT NULL DEFAULT 0,
    attempts   integer     NOT NULL DEFAULT 0,
    error      text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, channel)
);

CREATE TABLE evidence (
    evidence_id bigserial PRIMARY KEY,
    key         text        NOT NULL UNIQUE,
    case_id     text        NOT NULL,
    kind        text        NOT NULL,
    description text        NOT NULL,
    sha256      text        NOT NULL,
    size        bigint      NOT NULL,
    media_type  text        NOT NULL,
    source      text        NOT NULL,      -- 'inline' or the URI it was fetched from
    stored_at   text        NOT NULL,
    captured_at timestamptz NOT NULL,
    location    text,
    by_person   text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evidence_case_idx ON evidence (case_id);
CREATE INDEX evidence_sha256_idx ON evidence (sha256);

CREATE TABLE evidence_custody (
    custody_id  bigserial PRIMARY KEY,
    evidence_id bigint      NOT NULL REFERENCES evidence (evidence_id),
    action      text        NOT NULL,      -- captured, read
    by_person   text        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    note        text
);
CREATE INDEX evidence_custody_evidence_idx ON evidence_custody (evidence_id);

CREATE TABLE reports (
    report_id  bigserial PRIMARY KEY,
    key        text        NOT NULL UNIQUE,
    case_id    text        NOT NULL,
    kind       text        NOT NULL,
    reason     text        NOT NULL,
    title      text        NOT NULL,
    summary    text        NOT NULL,
    markdown   text        NOT NULL,
    html       text        NOT NULL,
    files      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    at         timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reports_case_idx ON reports (case_id, at DESC);

CREATE TABLE surveys (
    survey_id  bigserial PRIMARY KEY,
    key        text        NOT NULL UNIQUE,
    case_id    text        NOT NULL,
    token      text        NOT NULL UNIQUE,
    sent_at    timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX surveys_case_idx ON surveys (case_id);

CREATE TABLE survey_responses (
    response_id   bigserial PRIMARY KEY,
    key           text        NOT NULL UNIQUE,
    case_id       text        NOT NULL,
    score         smallint    NOT NULL CHECK (score BETWEEN 1 AND 5),
    timeliness    smallint,
    effectiveness smallint,
    attitude      smallint,
    comment       text,
    at            timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX survey_responses_case_idx ON survey_responses (case_id);

-- 'simple' configuration: no stemming and no stop words, so Chinese and English text both index.
CREATE TABLE knowledge_articles (
    article_id bigserial PRIMARY KEY,
    key        text        NOT NULL UNIQUE,
    case_id    text        NOT NULL,
    title      text        NOT NULL,
    body       text        NOT NULL,
    cause      text        NOT NULL,
    lessons    text        NOT NULL,
    category   text,
    at         timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    search     tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') ||
        setweight(to_tsvector('simple'::regconfig, coalesce(cause, '') || ' ' || coalesce(lessons, '')), 'B') ||
        setweight(to_tsvector('simple'::regconfig, coalesce(body, '')), 'C')
    ) STORED
);
CREATE INDEX knowledge_articles_search_idx ON knowledge_articles USING gin (search);
