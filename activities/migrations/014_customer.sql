-- The customer's page (issue 24): one link per case and reporter. The token itself is never stored
-- (it is rebuilt from these columns and the secret); a revoked or replaced link stays as a row with
-- `revoked_at`, so its holder is told it is gone (410) rather than that it never existed.
CREATE TABLE customer_links (
    link_id    text        PRIMARY KEY CHECK (length(link_id) BETWEEN 8 AND 64),
    case_id    text        NOT NULL,
    reporter   text        NOT NULL CHECK (length(reporter) BETWEEN 1 AND 300),
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
-- At most one standing link per case and reporter: issuing again returns it.
CREATE UNIQUE INDEX customer_links_standing ON customer_links (case_id, reporter) WHERE revoked_at IS NULL;
CREATE INDEX customer_links_case ON customer_links (case_id);

-- A reporter who joined a group complaint is reached as the case's own reporter is (issue 24): their row in
-- the register names the report they joined with, so their messages carry their own link.
ALTER TABLE stakeholders ADD COLUMN report_id text;
CREATE INDEX stakeholders_report_idx ON stakeholders (case_id, report_id) WHERE report_id IS NOT NULL;
