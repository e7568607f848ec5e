-- Language and local time (issue 23): a project's own locale and zone, a person's locale.
CREATE TABLE IF NOT EXISTS project_settings (
    project_id text        PRIMARY KEY CHECK (length(project_id) BETWEEN 1 AND 100),
    locale     text        CHECK (locale IN ('en', 'zh-CN')),
    timezone   text        CHECK (length(timezone) BETWEEN 1 AND 64),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE people ADD COLUMN IF NOT EXISTS locale text CHECK (locale IN ('en', 'zh-CN'));
