-- Records a manager can hand over (issue 27): evidence reads with their channel and whether the case's
-- timeline has them, legal holds that stop retention, the key that signs case bundles when no
-- CRISIS_ENCRYPTION_KEY exists to derive it from, and when retention last purged a case.

-- A read of evidence: who (by_person), why (note), through what (via), and whether the case recorded it
-- as an `evidence_read` event (false: the case was closed, so only this row has it).
ALTER TABLE evidence_custody ADD COLUMN via text, ADD COLUMN on_timeline boolean;

-- A legal hold keeps a case's records whole: retention and erasure requests leave it alone while a hold
-- is active (released_at IS NULL); released holds stay as their history.
CREATE TABLE legal_holds (
    hold_id     bigserial   PRIMARY KEY,
    case_id     text        NOT NULL,
    reason      text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    placed_by   text        NOT NULL,
    placed_at   timestamptz NOT NULL DEFAULT now(),
    released_by text,
    released_at timestamptz
);
CREATE UNIQUE INDEX legal_holds_active_idx ON legal_holds (case_id) WHERE released_at IS NULL;

-- Retention ran over this case (personal fields erased, free text scrubbed): the daily run skips it.
ALTER TABLE cases ADD COLUMN purged_at timestamptz;

-- The Ed25519 seed that signs case bundles, generated once, for a deployment without an encryption key
-- (with one, the signing key is derived from it and nothing is stored here).
CREATE TABLE export_signing_key (
    key_id     text        PRIMARY KEY,
    seed       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
