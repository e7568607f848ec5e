-- The case audit (issue 20): each run of a case that Temporal closed behind crisisdesk's back (the Web
-- UI's Terminate, or a Reset that terminated the run it rewound), as the crisis-case-audit sweep found it.
-- The row is what makes the sweep idempotent: it is written in the same transaction as the timeline event
-- and the case row's change, and `notified_at` says the admins were told (a retry tells them if not yet).
CREATE TABLE case_audit (
    run_id      text        PRIMARY KEY,
    case_id     text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('terminated', 'reset')),
    reason      text,
    identity    text,                    -- the Temporal client identity that asked: not a verified person
    closed_at   timestamptz NOT NULL,
    seq         integer,                 -- the timeline event written for it
    noticed_at  timestamptz NOT NULL DEFAULT now(),
    notified_at timestamptz
);
CREATE INDEX case_audit_case_idx ON case_audit (case_id);
CREATE INDEX case_audit_unnotified_idx ON case_audit (noticed_at) WHERE notified_at IS NULL;
