-- Access scoped to projects and regions (issue 21): a person sees and acts on the cases of the projects
-- and regions their directory entry lists; admins and managers see all (starter/scope.py). An entry
-- listing neither is unscoped: CRISIS_ACCESS_UNSCOPED says whether that means every case or none.
ALTER TABLE people ADD COLUMN projects text[] NOT NULL DEFAULT '{}',
                   ADD COLUMN regions  text[] NOT NULL DEFAULT '{}';

-- Evidence is bound to the case it was uploaded for: an upload (or inline content stored at the API's
-- door) records its case here before the case is sent the reference, and the capture activity takes
-- an `evidence:sha256:` reference only when this case uploaded (or already holds) that content. The
-- store itself keeps one file per content, however many cases bring it.
CREATE TABLE evidence_uploads (
    case_id     text        NOT NULL,
    sha256      text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    by_person   text        NOT NULL,
    size        bigint      NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, sha256)
);
