-- Reach (issue 10, part 2): on-call rosters, seats held by a roster, the channels people answer, and
-- the acknowledgement links already used.

-- A roster is data (crisisdesk.models.rosters.Roster, validated before it is stored): a rotation or
-- explicit shifts, with overrides for leave. The person on duty is worked out when an alert is sent.
CREATE TABLE rosters (
    name       text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    spec       jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A team seat is held by a person or by a roster's person on duty, never both, never neither.
ALTER TABLE project_teams ALTER COLUMN person_id DROP NOT NULL;
ALTER TABLE project_teams ADD COLUMN roster text REFERENCES rosters (name);
ALTER TABLE project_teams ADD CONSTRAINT project_teams_one_holder CHECK ((person_id IS NULL) <> (roster IS NULL));

-- The channels a person answers, in the order they prefer them (lowest position first).
ALTER TABLE person_contacts DROP CONSTRAINT person_contacts_channel_check;
ALTER TABLE person_contacts ADD CONSTRAINT person_contacts_channel_check
    CHECK (channel IN ('email', 'sms', 'wecom', 'dingtalk', 'feishu'));
ALTER TABLE person_contacts ADD COLUMN position integer NOT NULL DEFAULT 0 CHECK (position >= 0);

-- An acknowledgement link works once: its nonce is stored when it is used (no token, no contact).
CREATE TABLE ack_links_used (
    nonce     text        PRIMARY KEY,
    person_id text        NOT NULL,
    case_id   text        NOT NULL,
    used_at   timestamptz NOT NULL DEFAULT now()
);
