-- Rollups kept as cases change (issue 28): the month's metrics and the Prometheus gauges read these
-- instead of every timeline event of every case on every request. Triggers keep them, so every writer
-- of `cases`, `timeline_events` and `survey_responses` (the worker's store step, a restore, a test) keeps
-- them right; each recomputes only the cases a statement touched, from the same expressions the full
-- computation in activities/metrics.py used, so the figures are the same (tests/test_metrics.py holds it).
--
-- case_facts      one row per case: its selection and group columns, and what its timeline says
--                 (closed, when acknowledged, breaches, survey answers by value, …)
-- deadline_facts  one row per deadline instance (case, name, due time): met on time, late, breached
-- open_case_counts  open real cases by stage and severity (and breached now), in 16 shards so that
--                 cases recorded at once rarely wait on the same row; the Prometheus scrape sums them
-- case_due        each open real case's earliest deadline, indexed: the oldest overdue is one index read

CREATE TABLE case_facts (
    case_id             text PRIMARY KEY,
    received_at         timestamptz,          -- cases.received_at: the period a case is selected by
    origin              timestamptz,          -- where its SLA clocks start (status.received_at, else the column)
    drill               boolean     NOT NULL DEFAULT false,
    project_id          text,
    region              text,
    category            text,
    severity            text,
    path                text,
    playbook            text,                 -- "<name> v<version>", the `playbook` group
    closed              boolean     NOT NULL DEFAULT false,
    cancelled           boolean     NOT NULL DEFAULT false,
    ack_at              timestamptz,
    response_at         timestamptz,
    resolve_at          timestamptz,
    breaches            integer     NOT NULL DEFAULT 0,
    top_level           integer,
    severity_raised     integer     NOT NULL DEFAULT 0,
    resolution_rejected integer     NOT NULL DEFAULT 0,
    plan_rejected       integer     NOT NULL DEFAULT 0,
    surveys_sent        integer     NOT NULL DEFAULT 0,
    crisis              boolean     NOT NULL DEFAULT false,
    contingency         boolean     NOT NULL DEFAULT false,
    media               boolean     NOT NULL DEFAULT false,
    -- survey answers by dimension and value (1-5): answers[v] is how many answered v
    score               integer[]   NOT NULL DEFAULT '{0,0,0,0,0}',
    timeliness          integer[]   NOT NULL DEFAULT '{0,0,0,0,0}',
    effectiveness       integer[]   NOT NULL DEFAULT '{0,0,0,0,0}',
    attitude            integer[]   NOT NULL DEFAULT '{0,0,0,0,0}'
);
CREATE INDEX case_facts_period_idx ON case_facts (drill, received_at);

CREATE TABLE deadline_facts (
    case_id     text        NOT NULL,
    name        text        NOT NULL,
    due         timestamptz,
    on_time     boolean     NOT NULL,
    met         boolean     NOT NULL,
    breached    boolean     NOT NULL,
    late_by     double precision,
    -- the case's selection and group columns, copied so the period's instances are read alone
    received_at timestamptz,
    drill       boolean     NOT NULL DEFAULT false,
    project_id  text,
    region      text,
    category    text,
    severity    text,
    path        text,
    playbook    text
);
CREATE UNIQUE INDEX deadline_facts_instance_idx ON deadline_facts (case_id, name, due) NULLS NOT DISTINCT;
CREATE INDEX deadline_facts_period_idx ON deadline_facts (drill, received_at);

CREATE TABLE open_case_counts (
    stage    text     NOT NULL,
    severity text     NOT NULL,
    shard    smallint NOT NULL,
    cases    bigint   NOT NULL DEFAULT 0,
    breached bigint   NOT NULL DEFAULT 0,
    PRIMARY KEY (stage, severity, shard)
);

CREATE TABLE case_due (
    case_id      text PRIMARY KEY,
    earliest_due timestamptz NOT NULL
);
CREATE INDEX case_due_earliest_idx ON case_due (earliest_due);

-- ------------------------------------------------------------------ what a case's timeline says

-- The kinds of event the facts read (notifications, reports and deadline_set are most of a timeline).
CREATE FUNCTION crisis_fact_kind(kind text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT kind IN ('stage', 'deadline_met', 'breach', 'reminder', 'escalated', 'action', 'survey_sent', 'path',
                    'contingency')
$$;

CREATE FUNCTION crisis_refresh_facts(ids text[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO case_facts AS f (case_id, closed, cancelled, ack_at, response_at, resolve_at, breaches, top_level,
                                 severity_raised, resolution_rejected, plan_rejected, surveys_sent, crisis,
                                 contingency, media)
    SELECT i.case_id,
        coalesce(bool_or(e.kind = 'stage' AND e.name = 'closed'), false),
        coalesce(bool_or(e.kind = 'stage' AND e.name = 'cancelled'), false),
        min(e.at) FILTER (WHERE e.kind = 'deadline_met' AND e.name = 'acknowledgement'),
        min(e.at) FILTER (WHERE e.kind = 'deadline_met' AND e.name = 'response'),
        min(e.at) FILTER (WHERE e.kind = 'deadline_met' AND e.name = 'resolution'),
        count(e.seq) FILTER (WHERE e.kind = 'breach'),
        max((e.detail->>'level')::int) FILTER (WHERE e.kind IN ('breach', 'reminder', 'escalated')),
        count(e.seq) FILTER (WHERE e.kind = 'action' AND e.name = 'escalate'),
        count(e.seq) FILTER (WHERE e.kind = 'action' AND e.name = 'resolution_confirmed'
                             AND e.detail->>'satisfied' = 'false'),
        count(e.seq) FILTER (WHERE e.kind = 'action' AND e.name = 'customer_answer'
                             AND e.detail->>'satisfied' = 'false'),
        count(e.seq) FILTER (WHERE e.kind = 'survey_sent'),
        coalesce(bool_or(e.kind = 'path' AND e.name = 'crisis'), false),
        coalesce(bool_or(e.kind = 'contingency'), false),
        coalesce(bool_or(e.kind = 'action' AND e.name = 'external_involvement'
                         AND e.detail->>'party' = 'media'), false)
    FROM unnest(ids) AS i(case_id)
    LEFT JOIN timeline_events e ON e.case_id = i.case_id AND crisis_fact_kind(e.kind)
    GROUP BY i.case_id
    ON CONFLICT (case_id) DO UPDATE SET
        closed = EXCLUDED.closed, cancelled = EXCLUDED.cancelled, ack_at = EXCLUDED.ack_at,
        response_at = EXCLUDED.response_at, resolve_at = EXCLUDED.resolve_at, breaches = EXCLUDED.breaches,
        top_level = EXCLUDED.top_level, severity_raised = EXCLUDED.severity_raised,
        resolution_rejected = EXCLUDED.resolution_rejected, plan_rejected = EXCLUDED.plan_rejected,
        surveys_sent = EXCLUDED.surveys_sent, crisis = EXCLUDED.crisis, contingency = EXCLUDED.contingency,
        media = EXCLUDED.media;

    DELETE FROM deadline_facts WHERE case_id = ANY(ids);
    INSERT INTO deadline_facts (case_id, name, due, on_time, met, breached, late_by, received_at, drill, project_id,
                                region, category, severity, path, playbook)
    SELECT d.case_id, d.name, d.due, d.on_time, d.met, d.breached, d.late_by, f.received_at, coalesce(f.drill, false),
           f.project_id, f.region, f.category, f.severity, f.path, f.playbook
    FROM (SELECT e.case_id, e.name, (e.detail->>'due_at')::timestamptz AS due,
                 bool_or(e.kind = 'deadline_met' AND NOT (e.detail ? 'late_by_seconds')) AS on_time,
                 bool_or(e.kind = 'deadline_met') AS met,
                 bool_or(e.kind = 'breach') AS breached,
                 max((e.detail->>'late_by_seconds')::float8) FILTER (WHERE e.kind = 'deadline_met') AS late_by
          FROM timeline_events e
          WHERE e.case_id = ANY(ids) AND e.kind IN ('deadline_met', 'breach')
          GROUP BY 1, 2, 3) d
    LEFT JOIN case_facts f ON f.case_id = d.case_id;
$$;

CREATE FUNCTION crisis_refresh_surveys(ids text[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO case_facts AS f (case_id, score, timeliness, effectiveness, attitude)
    SELECT i.case_id,
        ARRAY[count(*) FILTER (WHERE r.score = 1), count(*) FILTER (WHERE r.score = 2), count(*) FILTER (WHERE r.score = 3), count(*) FILTER (WHERE r.score = 4), count(*) FILTER (WHERE r.score = 5)]::int[],
        ARRAY[count(*) FILTER (WHERE r.timeliness = 1), count(*) FILTER (WHERE r.timeliness = 2), count(*) FILTER (WHERE r.timeliness = 3), count(*) FILTER (WHERE r.timeliness = 4), count(*) FILTER (WHERE r.timeliness = 5)]::int[],
        ARRAY[count(*) FILTER (WHERE r.effectiveness = 1), count(*) FILTER (WHERE r.effectiveness = 2), count(*) FILTER (WHERE r.effectiveness = 3), count(*) FILTER (WHERE r.effectiveness = 4), count(*) FILTER (WHERE r.effectiveness = 5)]::int[],
        ARRAY[count(*) FILTER (WHERE r.attitude = 1), count(*) FILTER (WHERE r.attitude = 2), count(*) FILTER (WHERE r.attitude = 3), count(*) FILTER (WHERE r.attitude = 4), count(*) FILTER (WHERE r.attitude = 5)]::int[]
    FROM unnest(ids) AS i(case_id) LEFT JOIN survey_responses r ON r.case_id = i.case_id
    GROUP BY i.case_id
    ON CONFLICT (case_id) DO UPDATE SET score = EXCLUDED.score, timeliness = EXCLUDED.timeliness,
        effectiveness = EXCLUDED.effectiveness, attitude = EXCLUDED.attitude;
$$;

-- Events: only a statement that wrote a kind the facts read refreshes its cases.
CREATE FUNCTION crisis_events_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM crisis_refresh_facts(ARRAY(
        SELECT DISTINCT case_id FROM changed
        WHERE crisis_fact_kind(kind)));
    RETURN NULL;
END $$;
CREATE TRIGGER timeline_events_inserted AFTER INSERT ON timeline_events
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION crisis_events_changed();
-- An overwritten event (a lost workflow task run again) may have changed kind: the old rows count too.
CREATE FUNCTION crisis_events_rewritten() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM crisis_refresh_facts(ARRAY(
        SELECT DISTINCT case_id FROM (SELECT case_id, kind FROM changed UNION ALL SELECT case_id, kind FROM previous) x
        WHERE crisis_fact_kind(kind)));
    RETURN NULL;
END $$;
CREATE TRIGGER timeline_events_updated AFTER UPDATE ON timeline_events
    REFERENCING NEW TABLE AS changed OLD TABLE AS previous FOR EACH STATEMENT EXECUTE FUNCTION crisis_events_rewritten();
CREATE FUNCTION crisis_events_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM crisis_refresh_facts(ARRAY(SELECT DISTINCT case_id FROM previous));
    RETURN NULL;
END $$;
CREATE TRIGGER timeline_events_deleted AFTER DELETE ON timeline_events
    REFERENCING OLD TABLE AS previous FOR EACH STATEMENT EXECUTE FUNCTION crisis_events_deleted();

CREATE FUNCTION crisis_surveys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM crisis_refresh_surveys(ARRAY(SELECT DISTINCT case_id FROM previous));
    ELSE
        PERFORM crisis_refresh_surveys(ARRAY(SELECT DISTINCT case_id FROM changed));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER survey_responses_inserted AFTER INSERT ON survey_responses
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION crisis_surveys_changed();
CREATE TRIGGER survey_responses_updated AFTER UPDATE ON survey_responses
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION crisis_surveys_changed();
CREATE TRIGGER survey_responses_deleted AFTER DELETE ON survey_responses
    REFERENCING OLD TABLE AS previous FOR EACH STATEMENT EXECUTE FUNCTION crisis_surveys_changed();

-- ------------------------------------------------------------------ the case row: selection, groups, gauges

CREATE FUNCTION crisis_earliest_due(status jsonb) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT min((d->>'due_at')::timestamptz) FROM jsonb_array_elements(coalesce(status->'deadlines', '[]'::jsonb)) d
$$;

CREATE FUNCTION crisis_open_real(c cases) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT c.stage NOT IN ('closed', 'cancelled') AND c.intake_id NOT LIKE 'drill-%'
$$;

CREATE FUNCTION crisis_case_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_open boolean := TG_OP <> 'INSERT' AND crisis_open_real(OLD);
    is_open  boolean := TG_OP <> 'DELETE' AND crisis_open_real(NEW);
    due      timestamptz;
BEGIN
    -- Open cases by stage and severity, breached now: take the old row out and put the new one in, in
    -- one statement in key order (two cases crossing between the same keys never wait on each other).
    IF was_open OR is_open THEN
        INSERT INTO open_case_counts AS o (stage, severity, shard, cases, breached)
        SELECT k.stage, k.severity, k.shard, sum(k.cases), sum(k.breached)
        FROM (SELECT OLD.stage, coalesce(OLD.severity, '(none)'), (hashtext(OLD.case_id) & 15)::smallint,
                     -1, -(OLD.breached::int) WHERE was_open
              UNION ALL
              SELECT NEW.stage, coalesce(NEW.severity, '(none)'), (hashtext(NEW.case_id) & 15)::smallint,
                     1, NEW.breached::int WHERE is_open) AS k(stage, severity, shard, cases, breached)
        GROUP BY 1, 2, 3
        HAVING sum(k.cases) <> 0 OR sum(k.breached) <> 0
        ORDER BY 1, 2, 3
        ON CONFLICT (stage, severity, shard) DO UPDATE
            SET cases = o.cases + EXCLUDED.cases, breached = o.breached + EXCLUDED.breached;
    END IF;
    -- The earliest deadline of an open real case.
    due := CASE WHEN is_open THEN crisis_earliest_due(NEW.status) END;
    IF due IS NULL THEN
        IF was_open THEN
            DELETE FROM case_due WHERE case_id = OLD.case_id;
        END IF;
    ELSIF NOT was_open OR due IS DISTINCT FROM crisis_earliest_due(OLD.status) THEN
        INSERT INTO case_due (case_id, earliest_due) VALUES (NEW.case_id, due)
        ON CONFLICT (case_id) DO UPDATE SET earliest_due = EXCLUDED.earliest_due;
    END IF;
    IF TG_OP = 'DELETE' THEN  -- its events, if any are left, are no case's: selected by no period
        UPDATE case_facts SET received_at = NULL, origin = NULL, drill = false, project_id = NULL, region = NULL,
            category = NULL, severity = NULL, path = NULL, playbook = NULL WHERE case_id = OLD.case_id;
        UPDATE deadline_facts SET received_at = NULL, drill = false, project_id = NULL, region = NULL, category = NULL,
            severity = NULL, path = NULL, playbook = NULL WHERE case_id = OLD.case_id;
        DELETE FROM case_facts f WHERE f.case_id = OLD.case_id
            AND NOT EXISTS (SELECT 1 FROM timeline_events e WHERE e.case_id = OLD.case_id AND crisis_fact_kind(e.kind))
            AND NOT EXISTS (SELECT 1 FROM survey_responses r WHERE r.case_id = OLD.case_id);
        RETURN NULL;
    END IF;
    -- The selection and group columns, when one of them changed.
    IF TG_OP = 'INSERT' OR (OLD.received_at, OLD.status->>'received_at', OLD.intake_id, OLD.project_id, OLD.region,
                            OLD.category, OLD.severity, OLD.path, OLD.playbook, OLD.playbook_version)
            IS DISTINCT FROM (NEW.received_at, NEW.status->>'received_at', NEW.intake_id, NEW.project_id, NEW.region,
                              NEW.category, NEW.severity, NEW.path, NEW.playbook, NEW.playbook_version) THEN
        INSERT INTO case_facts AS f (case_id, received_at, origin, drill, project_id, region, category, severity, path,
                                     playbook)
        VALUES (NEW.case_id, NEW.received_at, coalesce((NEW.status->>'received_at')::timestamptz, NEW.received_at),
                NEW.intake_id LIKE 'drill-%', NEW.project_id, NEW.region, NEW.category, NEW.severity, NEW.path,
                NEW.playbook || ' v' || NEW.playbook_version)
        ON CONFLICT (case_id) DO UPDATE SET received_at = EXCLUDED.received_at, origin = EXCLUDED.origin,
            drill = EXCLUDED.drill, project_id = EXCLUDED.project_id, region = EXCLUDED.region,
            category = EXCLUDED.category, severity = EXCLUDED.severity, path = EXCLUDED.path,
            playbook = EXCLUDED.playbook;
        UPDATE deadline_facts d SET received_at = NEW.received_at, drill = NEW.intake_id LIKE 'drill-%',
            project_id = NEW.project_id, region = NEW.region, category = NEW.category, severity = NEW.severity,
            path = NEW.path, playbook = NEW.playbook || ' v' || NEW.playbook_version
        WHERE d.case_id = NEW.case_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER cases_changed AFTER INSERT OR UPDATE OR DELETE ON cases
    FOR EACH ROW EXECUTE FUNCTION crisis_case_changed();

-- ------------------------------------------------------------------ what is already recorded

-- Every rollup from scratch: what this migration does for the cases already recorded, and what an
-- operator runs (`SELECT crisis_rebuild_rollups()`) after restoring tables one at a time.
CREATE FUNCTION crisis_rebuild_rollups() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE case_facts, deadline_facts, open_case_counts, case_due;
    INSERT INTO case_facts (case_id, received_at, origin, drill, project_id, region, category, severity, path, playbook)
    SELECT case_id, received_at, coalesce((status->>'received_at')::timestamptz, received_at),
           intake_id LIKE 'drill-%', project_id, region, category, severity, path, playbook || ' v' || playbook_version
    FROM cases;
    PERFORM crisis_refresh_facts(ARRAY(SELECT case_id FROM cases UNION
                                       SELECT case_id FROM timeline_events WHERE crisis_fact_kind(kind)));
    PERFORM crisis_refresh_surveys(ARRAY(SELECT DISTINCT case_id FROM survey_responses));
    INSERT INTO open_case_counts (stage, severity, shard, cases, breached)
    SELECT stage, coalesce(severity, '(none)'), (hashtext(case_id) & 15)::smallint, count(*),
           count(*) FILTER (WHERE breached)
    FROM cases c WHERE crisis_open_real(c) GROUP BY 1, 2, 3;
    INSERT INTO case_due (case_id, earliest_due)
    SELECT case_id, crisis_earliest_due(status) FROM cases c
    WHERE crisis_open_real(c) AND crisis_earliest_due(status) IS NOT NULL;
END $$;

SELECT crisis_rebuild_rollups();
