-- The directory of people who act on cases and receive alerts. Identity (credentials) and reach
-- (contacts, teams, rosters) hang off `people` in their own tables; a person is never deleted, only
-- disabled, so the timeline's `by` keeps pointing at someone.
CREATE TABLE people (
    person_id    text        PRIMARY KEY CHECK (length(person_id) BETWEEN 1 AND 200),
    display_name text        NOT NULL,
    roles        text[]      NOT NULL DEFAULT '{}',   -- case roles they may hold and system roles
    service      boolean     NOT NULL DEFAULT false,  -- an intake service account, not a person
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at  timestamptz
);
