-- Personal data at rest (issue 9): stakeholders' and reporters' fields are sealed by the application
-- (crisisdesk/sealing.py); an erasure request finds a person by these blind indexes, never by clear text.
ALTER TABLE stakeholders ADD COLUMN name_index text, ADD COLUMN contact_index text;
CREATE INDEX stakeholders_name_index_idx ON stakeholders (name_index) WHERE name_index IS NOT NULL;
CREATE INDEX stakeholders_contact_index_idx ON stakeholders (contact_index) WHERE contact_index IS NOT NULL;
