-- Credentials and privacy work (issue 9). Personal API tokens are stored only as the SHA-256 of their
-- secret part: a leaked table opens nothing. `token_id` is the public part, shown in `crisis users
-- list` and logs, and looked up by primary key, so checking a token is one indexed read.
CREATE TABLE api_tokens (
    token_id     text        PRIMARY KEY,
    person_id    text        NOT NULL REFERENCES people (person_id),
    secret_hash  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_tokens_person_idx ON api_tokens (person_id);

-- Who erased, purged or re-encrypted personal data, when, and how many rows it changed. Never the
-- data itself, nor the name an erasure request gave.
CREATE TABLE privacy_log (
    entry_id bigserial   PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    kind     text        NOT NULL,          -- purge, erase, reencrypt
    by_whom  text        NOT NULL,
    detail   jsonb       NOT NULL DEFAULT '{}'::jsonb
);
