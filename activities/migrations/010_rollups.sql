-- Rollups kept as cases change (issue 28): the month's metrics and the Prometheus gauges read these
-- instead of every timeline event of every case on every request. Triggers keep them, so every writer
-- of `cases`, `timeline_events` and `survey_responses` (the worker's store step, a restore, a test) keeps
-- them right; each recomputes only the cases a statement touched, from the same expressions the full
-- computation in activities/metrics.py used, so the figures are the same (tests/test_metrics.py holds it).
--
-- case_facts      one row per case: its selection and group columns, and what its timeline says
--                 (closed, cancelled, terminated outside crisisdesk, how long it took to acknowledge,
--                 breaches, survey answers by value, …)
-- case_days       case_facts summed per day reported and group columns (8 shards), kept by a trigger
--                 on case_facts: a month's counts read a few thousand rows instead of every case
-- deadline_facts  one row per deadline instance (case, name, due time): met on time, late, breached
-- open_case_counts  open real cases by stage and severity (and breached now), in 16 shards so that
--                 cases recorded at once rarely wait on the same row; the Prometheus scrape sums them
-- case_due        each open real case's earliest deadline, indexed: the oldest overdue is one index read
--
-- Open means not closed, cancelled or terminated (activities/gauges.py OPEN; the case audit marks a case
-- Temporal ended behind crisisdesk's back `terminated`, migration 012). Durations are in the time each
-- target is written in: a `deadline_met` of a target in business time carries the working time it took
-- (`working_seconds`), and that is the figure; others count the clock from the case's origin.

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
    terminated          boolean     NOT NULL DEFAULT false,  -- a `terminated` event: ended in Temporal outside crisisdesk
    -- the first acknowledgement / response / resolution met that counts the clock (no working_seconds) ...
    ack_at              timestamptz,
    response_at         timestamptz,
    resolve_at          timestamptz,
    -- ... and the least working time of those met in business time (their `working_seconds`)
    ack_work            double precision,
    response_work       double precision,
    resolve_work        double precision,
    working             boolean     NOT NULL DEFAULT false,  -- some target met counted working time
    -- how long each took (crisis_took: the working seconds, or the clock's from origin, whichever is less,
    -- as the full computation's min over the events), kept with them and with origin: the percentiles read only these
    ack_s               double precision,
    response_s          double precision,
    resolve_s           double precision,
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
-- A month's durations are read from the index alone (an index-only scan of narrow entries).
CREATE INDEX case_facts_period_idx ON case_facts (drill, received_at) INCLUDE (ack_s, response_s, resolve_s);
CREATE INDEX case_facts_levels_idx ON case_facts (drill, received_at) INCLUDE (top_level) WHERE top_level IS NOT NULL;

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
CREATE INDEX deadline_facts_period_idx ON deadline_facts (drill, received_at) INCLUDE (name, on_time, met, breached);
CREATE INDEX deadline_facts_late_idx ON deadline_facts (drill, received_at) INCLUDE (name, late_by) WHERE late_by IS NOT NULL;

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

-- What one case adds to its day: every additive figure of compute_metrics (the percentiles and the
-- levels are read from case_facts' indexes).
CREATE TABLE case_days (
    day                 date     NOT NULL,
    drill               boolean  NOT NULL,
    project_id          text     NOT NULL,   -- '' for none (a key column cannot be NULL)
    region              text     NOT NULL,
    category            text     NOT NULL,
    severity            text     NOT NULL,
    path                text     NOT NULL,
    playbook            text     NOT NULL,
    shard               smallint NOT NULL,
    opened              bigint   NOT NULL DEFAULT 0,
    closed              bigint   NOT NULL DEFAULT 0,
    cancelled           bigint   NOT NULL DEFAULT 0,
    resolved            bigint   NOT NULL DEFAULT 0,
    terminated          bigint   NOT NULL DEFAULT 0,  -- terminated and neither closed nor cancelled
    open                bigint   NOT NULL DEFAULT 0,  -- neither closed, cancelled nor terminated
    ack_n               bigint   NOT NULL DEFAULT 0,
    response_n          bigint   NOT NULL DEFAULT 0,
    breaches            bigint   NOT NULL DEFAULT 0,
    cases_breached      bigint   NOT NULL DEFAULT 0,
    severity_raised     bigint   NOT NULL DEFAULT 0,
    resolution_rejected bigint   NOT NULL DEFAULT 0,
    plan_rejected       bigint   NOT NULL DEFAULT 0,
    reopened            bigint   NOT NULL DEFAULT 0,
    surveys_sent        bigint   NOT NULL DEFAULT 0,
    crises              bigint   NOT NULL DEFAULT 0,
    contingencies       bigint   NOT NULL DEFAULT 0,
    media               bigint   NOT NULL DEFAULT 0,
    complaints          bigint   NOT NULL DEFAULT 0,
    working             bigint   NOT NULL DEFAULT 0,
    score               bigint[] NOT NULL DEFAULT '{0,0,0,0,0}',
    timeliness          bigint[] NOT NULL DEFAULT '{0,0,0,0,0}',
    effectiveness       bigint[] NOT NULL DEFAULT '{0,0,0,0,0}',
    attitude            bigint[] NOT NULL DEFAULT '{0,0,0,0,0}',
    PRIMARY KEY (day, drill, project_id, region, category, severity, path, playbook, shard)
);

-- The same for deadline instances: per day, group columns and deadline name.
CREATE TABLE deadline_days (
    day            date     NOT NULL,
    drill          boolean  NOT NULL,
    project_id     text     NOT NULL,
    region         text     NOT NULL,
    category       text     NOT NULL,
    severity       text     NOT NULL,
    path           text     NOT NULL,
    playbook       text     NOT NULL,
    name           text     NOT NULL,
    shard          smallint NOT NULL,
    met_on_time    bigint   NOT NULL DEFAULT 0,
    missed         bigint   NOT NULL DEFAULT 0,
    still_breached bigint   NOT NULL DEFAULT 0,
    PRIMARY KEY (day, drill, project_id, region, category, severity, path, playbook, name, shard)
);

-- ------------------------------------------------------------------ what a case's timeline says

-- The kinds of event the facts read (notifications, reports and deadline_set are most of a timeline).
CREATE FUNCTION crisis_fact_kind(kind text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT kind IN ('stage', 'deadline_met', 'breach', 'reminder', 'escalated', 'action', 'survey_sent', 'path',
                    'contingency', 'terminated')
$$;

-- How long a target took, as the full computation has it: the least over its `deadline_met` events of
-- their working seconds, or of the clock's seconds from the origin for those without (`at`: the first
-- such). Unknown while the case has no origin (its row not recorded yet, or deleted).
CREATE FUNCTION crisis_took(work double precision, at timestamptz, origin timestamptz) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN origin IS NOT NULL THEN least(work, extract(epoch FROM at - origin)::float8) END
$$;

CREATE FUNCTION crisis_refresh_facts(ids text[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO case_facts AS f (case_id, closed, cancelled, terminated, ack_at, response_at, resolve_at, ack_work,
                                 response_work, resolve_work, working, breaches, top_level, severity_raised,
                                 resolution_rejected, plan_rejected, surveys_sent, crisis, contingency, media)
    SELECT i.case_id,
        coalesce(bool_or(e.kind = 'stage' AND e.name = 'closed'), false),
        coalesce(bool_or(e.kind = 'stage' AND e.name = 'cancelled'), false),
        coalesce(bool_or(e.kind = 'terminated'), false),
        min(e.at) FILTER (WHERE e.kind = 'deadline_met' AND e.name = 'acknowledgement' AND NOT e.detail ? 'working_seconds'),
        min(e.at) FILTER (WHERE e.kind = 'deadline_met' AND e.name = 'response' AND NOT e.detail ? 'working_seconds'),
        min(e.at) FILTER (WHERE e.kind = 'deadline_met' AND e.name = 'resolution' AND NOT e.detail ? 'working_seconds'),
        min((e.detail->>'working_seconds')::float8) FILTER (WHERE e.kind = 'deadline_met' AND e.name = 'acknowledgement'),
        min((e.detail->>'working_seconds')::float8) FILTER (WHERE e.kind = 'deadline_met' AND e.name = 'response'),
        min((e.detail->>'working_seconds')::float8) FILTER (WHERE e.kind = 'deadline_met' AND e.name = 'resolution'),
        coalesce(bool_or(e.kind = 'deadline_met' AND e.detail ? 'working_seconds'), false),
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
        closed = EXCLUDED.closed, cancelled = EXCLUDED.cancelled, terminated = EXCLUDED.terminated,
        ack_at = EXCLUDED.ack_at, response_at = EXCLUDED.response_at, resolve_at = EXCLUDED.resolve_at,
        ack_work = EXCLUDED.ack_work, response_work = EXCLUDED.response_work, resolve_work = EXCLUDED.resolve_work,
        working = EXCLUDED.working,
        ack_s = crisis_took(EXCLUDED.ack_work, EXCLUDED.ack_at, f.origin),
        response_s = crisis_took(EXCLUDED.response_work, EXCLUDED.response_at, f.origin),
        resolve_s = crisis_took(EXCLUDED.resolve_work, EXCLUDED.resolve_at, f.origin), breaches = EXCLUDED.breaches,
        top_level = EXCLUDED.top_level, severity_raised = EXCLUDED.severity_raised,
        resolution_rejected = EXCLUDED.resolution_rejected, plan_rejected = EXCLUDED.plan_rejected,
        surveys_sent = EXCLUDED.surveys_sent, crisis = EXCLUDED.crisis, contingency = EXCLUDED.contingency,
        media = EXCLUDED.media
    WHERE (f.closed, f.cancelled, f.terminated, f.ack_at, f.response_at, f.resolve_at, f.ack_work, f.response_work,
           f.resolve_work, f.working, f.breaches, f.top_level, f.severity_raised, f.resolution_rejected, f.plan_rejected,
           f.surveys_sent, f.crisis, f.contingency, f.media)
          IS DISTINCT FROM (EXCLUDED.closed, EXCLUDED.cancelled, EXCLUDED.terminated, EXCLUDED.ack_at,
                            EXCLUDED.response_at, EXCLUDED.resolve_at, EXCLUDED.ack_work, EXCLUDED.response_work,
                            EXCLUDED.resolve_work, EXCLUDED.working, EXCLUDED.breaches, EXCLUDED.top_level,
                            EXCLUDED.severity_raised, EXCLUDED.resolution_rejected, EXCLUDED.plan_rejected,
                            EXCLUDED.surveys_sent, EXCLUDED.crisis, EXCLUDED.contingency, EXCLUDED.media);

    -- Deadline instances: written only where they changed, so the days' trigger fires only for those.
    WITH fresh AS (
        SELECT d.case_id, d.name, d.due, d.on_time, d.met, d.breached, d.late_by, f.received_at,
               coalesce(f.drill, false) AS drill, f.project_id, f.region, f.category, f.severity, f.path, f.playbook
        FROM (SELECT e.case_id, e.name, (e.detail->>'due_at')::timestamptz AS due,
                     bool_or(e.kind = 'deadline_met' AND NOT (e.detail ? 'late_by_seconds')) AS on_time,
                     bool_or(e.kind = 'deadline_met') AS met,
                     bool_or(e.kind = 'breach') AS breached,
                     max((e.detail->>'late_by_seconds')::float8) FILTER (WHERE e.kind = 'deadline_met') AS late_by
              FROM timeline_events e
              WHERE e.case_id = ANY(ids) AND e.kind IN ('deadline_met', 'breach')
              GROUP BY 1, 2, 3) d
        LEFT JOIN case_facts f ON f.case_id = d.case_id),
    gone AS (
        DELETE FROM deadline_facts old WHERE old.case_id = ANY(ids) AND NOT EXISTS (
            SELECT 1 FROM fresh WHERE fresh.case_id = old.case_id AND fresh.name = old.name
                                  AND fresh.due IS NOT DISTINCT FROM old.due))
    INSERT INTO deadline_facts AS d (case_id, name, due, on_time, met, breached, late_by, received_at, drill, project_id,
                                     region, category, severity, path, playbook)
    SELECT * FROM fresh
    ON CONFLICT (case_id, name, due) DO UPDATE SET on_time = EXCLUDED.on_time, met = EXCLUDED.met,
        breached = EXCLUDED.breached, late_by = EXCLUDED.late_by
    WHERE (d.on_time, d.met, d.breached, d.late_by)
          IS DISTINCT FROM (EXCLUDED.on_time, EXCLUDED.met, EXCLUDED.breached, EXCLUDED.late_by);
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
        effectiveness = EXCLUDED.effectiveness, attitude = EXCLUDED.attitude
    WHERE (f.score, f.timeliness, f.effectiveness, f.attitude)
          IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.timeliness, EXCLUDED.effectiveness, EXCLUDED.attitude);
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

-- ------------------------------------------------------------------ the days, kept from the facts

-- A fact row's contribution to its day, signed: the old row's taken out, the new row's put in, in one
-- statement in key order (two cases moving between the same keys never wait on each other). A row
-- without a day (no case row yet, or its case deleted) is in no period and adds nothing.
CREATE FUNCTION crisis_case_days_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.received_at, OLD.drill, OLD.project_id, OLD.region, OLD.category, OLD.severity, OLD.path,
            OLD.playbook, OLD.closed, OLD.cancelled, OLD.terminated, OLD.resolve_s IS NULL, OLD.ack_s IS NULL,
            OLD.response_s IS NULL, OLD.working, OLD.breaches, OLD.severity_raised, OLD.resolution_rejected,
            OLD.plan_rejected, OLD.surveys_sent, OLD.crisis, OLD.contingency, OLD.media, OLD.score, OLD.timeliness,
            OLD.effectiveness, OLD.attitude)
        IS NOT DISTINCT FROM (NEW.received_at, NEW.drill, NEW.project_id, NEW.region, NEW.category, NEW.severity,
            NEW.path, NEW.playbook, NEW.closed, NEW.cancelled, NEW.terminated, NEW.resolve_s IS NULL, NEW.ack_s IS NULL,
            NEW.response_s IS NULL, NEW.working, NEW.breaches, NEW.severity_raised, NEW.resolution_rejected,
            NEW.plan_rejected, NEW.surveys_sent, NEW.crisis, NEW.contingency, NEW.media, NEW.score, NEW.timeliness,
            NEW.effectiveness, NEW.attitude) THEN
        RETURN NULL;  -- nothing a day counts has changed (a duration's value, the top level)
    END IF;
    INSERT INTO case_days AS d (day, drill, project_id, region, category, severity, path, playbook, shard, opened,
        closed, cancelled, resolved, terminated, open, ack_n, response_n, breaches, cases_breached, severity_raised,
        resolution_rejected, plan_rejected, reopened, surveys_sent, crises, contingencies, media, complaints, working,
        score, timeliness, effectiveness, attitude)
    SELECT day, drill, project_id, region, category, severity, path, playbook, shard, sum(sign), sum(sign * closed::int),
        sum(sign * cancelled::int), sum(sign * (resolve_s IS NOT NULL)::int),
        sum(sign * (terminated AND NOT closed AND NOT cancelled)::int),
        sum(sign * (NOT closed AND NOT cancelled AND NOT terminated)::int), sum(sign * (ack_s IS NOT NULL)::int),
        sum(sign * (response_s IS NOT NULL)::int), sum(sign * breaches),
        sum(sign * (breaches > 0)::int), sum(sign * severity_raised), sum(sign * resolution_rejected),
        sum(sign * plan_rejected), sum(sign * (resolution_rejected + plan_rejected > 0)::int), sum(sign * surveys_sent),
        sum(sign * crisis::int), sum(sign * contingency::int), sum(sign * media::int),
        sum(sign * (category = 'complaint')::int), sum(sign * working::int),
        ARRAY[sum(sign * score[1]), sum(sign * score[2]), sum(sign * score[3]), sum(sign * score[4]), sum(sign * score[5])],
        ARRAY[sum(sign * timeliness[1]), sum(sign * timeliness[2]), sum(sign * timeliness[3]), sum(sign * timeliness[4]),
              sum(sign * timeliness[5])],
        ARRAY[sum(sign * effectiveness[1]), sum(sign * effectiveness[2]), sum(sign * effectiveness[3]),
              sum(sign * effectiveness[4]), sum(sign * effectiveness[5])],
        ARRAY[sum(sign * attitude[1]), sum(sign * attitude[2]), sum(sign * attitude[3]), sum(sign * attitude[4]),
              sum(sign * attitude[5])]
    FROM (SELECT -1 AS sign, (OLD.received_at AT TIME ZONE 'UTC')::date AS day, OLD.drill,
                 coalesce(OLD.project_id, ''), coalesce(OLD.region, ''), coalesce(OLD.category, ''),
                 coalesce(OLD.severity, ''), coalesce(OLD.path, ''), coalesce(OLD.playbook, ''),
                 (hashtext(OLD.case_id) & 7)::smallint, OLD.closed, OLD.cancelled, OLD.terminated, OLD.resolve_s,
                 OLD.ack_s, OLD.response_s, OLD.working, OLD.breaches, OLD.severity_raised, OLD.resolution_rejected,
                 OLD.plan_rejected, OLD.surveys_sent, OLD.crisis, OLD.contingency, OLD.media, OLD.score, OLD.timeliness,
                 OLD.effectiveness, OLD.attitude
          WHERE TG_OP <> 'INSERT' AND OLD.received_at IS NOT NULL
          UNION ALL
          SELECT 1, (NEW.received_at AT TIME ZONE 'UTC')::date, NEW.drill, coalesce(NEW.project_id, ''),
                 coalesce(NEW.region, ''), coalesce(NEW.category, ''), coalesce(NEW.severity, ''), coalesce(NEW.path, ''),
                 coalesce(NEW.playbook, ''), (hashtext(NEW.case_id) & 7)::smallint, NEW.closed, NEW.cancelled,
                 NEW.terminated, NEW.resolve_s, NEW.ack_s, NEW.response_s, NEW.working, NEW.breaches,
                 NEW.severity_raised, NEW.resolution_rejected, NEW.plan_rejected, NEW.surveys_sent, NEW.crisis,
                 NEW.contingency, NEW.media, NEW.score, NEW.timeliness, NEW.effectiveness, NEW.attitude
          WHERE TG_OP <> 'DELETE' AND NEW.received_at IS NOT NULL)
        AS c(sign, day, drill, project_id, region, category, severity, path, playbook, shard, closed, cancelled,
             terminated, resolve_s, ack_s, response_s, working, breaches, severity_raised, resolution_rejected,
             plan_rejected, surveys_sent, crisis, contingency, media, score, timeliness, effectiveness, attitude)
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    ON CONFLICT (day, drill, project_id, region, category, severity, path, playbook, shard) DO UPDATE SET
        opened = d.opened + EXCLUDED.opened, closed = d.closed + EXCLUDED.closed,
        cancelled = d.cancelled + EXCLUDED.cancelled, resolved = d.resolved + EXCLUDED.resolved,
        terminated = d.terminated + EXCLUDED.terminated, open = d.open + EXCLUDED.open, ack_n = d.ack_n + EXCLUDED.ack_n,
        response_n = d.response_n + EXCLUDED.response_n,
        breaches = d.breaches + EXCLUDED.breaches, cases_breached = d.cases_breached + EXCLUDED.cases_breached,
        severity_raised = d.severity_raised + EXCLUDED.severity_raised,
        resolution_rejected = d.resolution_rejected + EXCLUDED.resolution_rejected,
        plan_rejected = d.plan_rejected + EXCLUDED.plan_rejected, reopened = d.reopened + EXCLUDED.reopened,
        surveys_sent = d.surveys_sent + EXCLUDED.surveys_sent, crises = d.crises + EXCLUDED.crises,
        contingencies = d.contingencies + EXCLUDED.contingencies, media = d.media + EXCLUDED.media,
        complaints = d.complaints + EXCLUDED.complaints, working = d.working + EXCLUDED.working,
        score = ARRAY[d.score[1] + EXCLUDED.score[1], d.score[2] + EXCLUDED.score[2], d.score[3] + EXCLUDED.score[3],
                      d.score[4] + EXCLUDED.score[4], d.score[5] + EXCLUDED.score[5]],
        timeliness = ARRAY[d.timeliness[1] + EXCLUDED.timeliness[1], d.timeliness[2] + EXCLUDED.timeliness[2],
                           d.timeliness[3] + EXCLUDED.timeliness[3], d.timeliness[4] + EXCLUDED.timeliness[4],
                           d.timeliness[5] + EXCLUDED.timeliness[5]],
        effectiveness = ARRAY[d.effectiveness[1] + EXCLUDED.effectiveness[1], d.effectiveness[2] + EXCLUDED.effectiveness[2],
                              d.effectiveness[3] + EXCLUDED.effectiveness[3], d.effectiveness[4] + EXCLUDED.effectiveness[4],
                              d.effectiveness[5] + EXCLUDED.effectiveness[5]],
        attitude = ARRAY[d.attitude[1] + EXCLUDED.attitude[1], d.attitude[2] + EXCLUDED.attitude[2],
                         d.attitude[3] + EXCLUDED.attitude[3], d.attitude[4] + EXCLUDED.attitude[4],
                         d.attitude[5] + EXCLUDED.attitude[5]];
    RETURN NULL;
END $$;
CREATE TRIGGER case_facts_changed AFTER INSERT OR UPDATE OR DELETE ON case_facts
    FOR EACH ROW EXECUTE FUNCTION crisis_case_days_changed();

CREATE FUNCTION crisis_deadline_days_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deadline_days AS d (day, drill, project_id, region, category, severity, path, playbook, name, shard,
                                    met_on_time, missed, still_breached)
    SELECT day, drill, project_id, region, category, severity, path, playbook, name, shard, sum(sign * on_time::int),
           sum(sign * (NOT on_time)::int), sum(sign * (breached AND NOT met)::int)
    FROM (SELECT -1 AS sign, (OLD.received_at AT TIME ZONE 'UTC')::date AS day, OLD.drill,
                 coalesce(OLD.project_id, ''), coalesce(OLD.region, ''), coalesce(OLD.category, ''),
                 coalesce(OLD.severity, ''), coalesce(OLD.path, ''), coalesce(OLD.playbook, ''), OLD.name,
                 (hashtext(OLD.case_id) & 7)::smallint, OLD.on_time, OLD.met, OLD.breached
          WHERE TG_OP <> 'INSERT' AND OLD.received_at IS NOT NULL
          UNION ALL
          SELECT 1, (NEW.received_at AT TIME ZONE 'UTC')::date, NEW.drill, coalesce(NEW.project_id, ''),
                 coalesce(NEW.region, ''), coalesce(NEW.category, ''), coalesce(NEW.severity, ''), coalesce(NEW.path, ''),
                 coalesce(NEW.playbook, ''), NEW.name, (hashtext(NEW.case_id) & 7)::smallint, NEW.on_time, NEW.met,
                 NEW.breached
          WHERE TG_OP <> 'DELETE' AND NEW.received_at IS NOT NULL)
        AS c(sign, day, drill, project_id, region, category, severity, path, playbook, name, shard, on_time, met, breached)
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    ON CONFLICT (day, drill, project_id, region, category, severity, path, playbook, name, shard) DO UPDATE SET
        met_on_time = d.met_on_time + EXCLUDED.met_on_time, missed = d.missed + EXCLUDED.missed,
        still_breached = d.still_breached + EXCLUDED.still_breached;
    RETURN NULL;
END $$;
CREATE TRIGGER deadline_facts_changed AFTER INSERT OR UPDATE OR DELETE ON deadline_facts
    FOR EACH ROW EXECUTE FUNCTION crisis_deadline_days_changed();

-- ------------------------------------------------------------------ the case row: selection, groups, gauges

CREATE FUNCTION crisis_earliest_due(status jsonb) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT min((d->>'due_at')::timestamptz) FROM jsonb_array_elements(coalesce(status->'deadlines', '[]'::jsonb)) d
$$;

-- activities/gauges.py OPEN: not closed, cancelled or terminated (crisisdesk.models.audit ENDED_STAGES).
CREATE FUNCTION crisis_open_real(c cases) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT c.stage NOT IN ('closed', 'cancelled', 'terminated') AND c.intake_id NOT LIKE 'drill-%'
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
            category = NULL, severity = NULL, path = NULL, playbook = NULL, ack_s = NULL, response_s = NULL,
            resolve_s = NULL WHERE case_id = OLD.case_id;
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
            playbook = EXCLUDED.playbook,
            ack_s = crisis_took(f.ack_work, f.ack_at, EXCLUDED.origin),
            response_s = crisis_took(f.response_work, f.response_at, EXCLUDED.origin),
            resolve_s = crisis_took(f.resolve_work, f.resolve_at, EXCLUDED.origin);
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
    -- The days are summed in one pass at the end, not case by case through their triggers.
    ALTER TABLE case_facts DISABLE TRIGGER case_facts_changed;
    ALTER TABLE deadline_facts DISABLE TRIGGER deadline_facts_changed;
    TRUNCATE case_facts, deadline_facts, case_days, deadline_days, open_case_counts, case_due;
    INSERT INTO case_facts (case_id, received_at, origin, drill, project_id, region, category, severity, path, playbook)
    SELECT case_id, received_at, coalesce((status->>'received_at')::timestamptz, received_at),
           intake_id LIKE 'drill-%', project_id, region, category, severity, path, playbook || ' v' || playbook_version
    FROM cases;
    PERFORM crisis_refresh_facts(ARRAY(SELECT case_id FROM cases UNION
                                       SELECT case_id FROM timeline_events WHERE crisis_fact_kind(kind)));
    PERFORM crisis_refresh_surveys(ARRAY(SELECT DISTINCT case_id FROM survey_responses));
    INSERT INTO case_days (day, drill, project_id, region, category, severity, path, playbook, shard, opened, closed,
        cancelled, resolved, terminated, open, ack_n, response_n, breaches, cases_breached, severity_raised,
        resolution_rejected, plan_rejected, reopened, surveys_sent, crises, contingencies, media, complaints, working,
        score, timeliness, effectiveness, attitude)
    SELECT (received_at AT TIME ZONE 'UTC')::date, drill, coalesce(project_id, ''), coalesce(region, ''),
        coalesce(category, ''), coalesce(severity, ''), coalesce(path, ''), coalesce(playbook, ''),
        (hashtext(case_id) & 7)::smallint, count(*), count(*) FILTER (WHERE closed), count(*) FILTER (WHERE cancelled),
        count(resolve_s), count(*) FILTER (WHERE terminated AND NOT closed AND NOT cancelled),
        count(*) FILTER (WHERE NOT closed AND NOT cancelled AND NOT terminated), count(ack_s), count(response_s),
        sum(breaches), count(*) FILTER (WHERE breaches > 0), sum(severity_raised), sum(resolution_rejected),
        sum(plan_rejected), count(*) FILTER (WHERE resolution_rejected + plan_rejected > 0), sum(surveys_sent),
        count(*) FILTER (WHERE crisis), count(*) FILTER (WHERE contingency), count(*) FILTER (WHERE media),
        count(*) FILTER (WHERE category = 'complaint'), count(*) FILTER (WHERE working),
        ARRAY[sum(score[1]), sum(score[2]), sum(score[3]), sum(score[4]), sum(score[5])],
        ARRAY[sum(timeliness[1]), sum(timeliness[2]), sum(timeliness[3]), sum(timeliness[4]), sum(timeliness[5])],
        ARRAY[sum(effectiveness[1]), sum(effectiveness[2]), sum(effectiveness[3]), sum(effectiveness[4]),
              sum(effectiveness[5])],
        ARRAY[sum(attitude[1]), sum(attitude[2]), sum(attitude[3]), sum(attitude[4]), sum(attitude[5])]
    FROM case_facts WHERE received_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
    INSERT INTO deadline_days (day, drill, project_id, region, category, severity, path, playbook, name, shard,
                               met_on_time, missed, still_breached)
    SELECT (received_at AT TIME ZONE 'UTC')::date, drill, coalesce(project_id, ''), coalesce(region, ''),
        coalesce(category, ''), coalesce(severity, ''), coalesce(path, ''), coalesce(playbook, ''), name,
        (hashtext(case_id) & 7)::smallint, count(*) FILTER (WHERE on_time), count(*) FILTER (WHERE NOT on_time),
        count(*) FILTER (WHERE breached AND NOT met)
    FROM deadline_facts WHERE received_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
    ALTER TABLE case_facts ENABLE TRIGGER case_facts_changed;
    ALTER TABLE deadline_facts ENABLE TRIGGER deadline_facts_changed;
    INSERT INTO open_case_counts (stage, severity, shard, cases, breached)
    SELECT stage, coalesce(severity, '(none)'), (hashtext(case_id) & 15)::smallint, count(*),
           count(*) FILTER (WHERE breached)
    FROM cases c WHERE crisis_open_real(c) GROUP BY 1, 2, 3;
    INSERT INTO case_due (case_id, earliest_due)
    SELECT case_id, crisis_earliest_due(status) FROM cases c
    WHERE crisis_open_real(c) AND crisis_earliest_due(status) IS NOT NULL;
END $$;

SELECT crisis_rebuild_rollups();
