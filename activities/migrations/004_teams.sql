-- Reach (issue 10): each project's standing team, role by role, with a deputy who is told too once
-- an alert escalates; and how to reach a person. A team names people from the directory only.
CREATE TABLE project_teams (
    project_id  text        NOT NULL CHECK (length(project_id) BETWEEN 1 AND 200),
    role        text        NOT NULL,
    person_id   text        NOT NULL REFERENCES people (person_id),
    deputy_id   text        REFERENCES people (person_id),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, role)
);

-- Contacts are personal data: read to send, never logged, never on a case's timeline.
CREATE TABLE person_contacts (
    person_id  text        NOT NULL REFERENCES people (person_id),
    channel    text        NOT NULL CHECK (channel IN ('email')),
    address    text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (person_id, channel)
);
