"""Satisfaction surveys: a token per survey sent, and the customer's answers."""

import secrets

import asyncpg
from temporalio import activity

from crisisdesk.logs import log
from activities.notify import Notifier
from crisisdesk.models.effects import Notification, RecordSurvey, Recorded, SendSurvey, SurveySent
from crisisdesk.sealing import Sealer


class Surveys:
    def __init__(self, pool: asyncpg.Pool, notifier: Notifier | None = None, sealer: Sealer | None = None) -> None:
        self.pool = pool
        self.notifier = notifier
        self.sealer = sealer or Sealer(None)

    @activity.defn(name="send_survey")
    async def send_survey(self, req: SendSurvey) -> SurveySent:
        """Issue the survey's token (the same one on every retry) and send it to the reporter."""
        sent = await self._issue(req)
        if req.recipient is not None and self.notifier is not None:
            receipt = await self.notifier.notify(Notification(
                key=f"{req.key}:sent", case_id=req.case_id, kind="survey", subject="How did we do?",
                body="Please rate our timeliness, effectiveness and attitude on your case page.",
                recipients=[req.recipient], at=req.at))
            sent.delivered = receipt.delivered > 0
        return sent

    async def _issue(self, req: SendSurvey) -> SurveySent:
        async with self.pool.acquire() as conn:
            token = await conn.fetchval(
                """INSERT INTO surveys (key, case_id, token, sent_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (key) DO NOTHING RETURNING token""",
                req.key, req.case_id, secrets.token_urlsafe(18), req.at,
            )
            created = token is not None
            if not created:
                token = await conn.fetchval("SELECT token FROM surveys WHERE key = $1", req.key)
        if created:
            log.info("survey issued", case_id=req.case_id, key=req.key)
        return SurveySent(token=token)

    @activity.defn(name="record_survey")
    async def record_survey(self, req: RecordSurvey) -> Recorded:
        async with self.pool.acquire() as conn:
            result = await conn.execute(
                """INSERT INTO survey_responses (key, case_id, score, timeliness, effectiveness, attitude,
                                                 comment, at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO NOTHING""",
                req.key, req.case_id, req.score, req.timeliness, req.effectiveness, req.attitude,
                self.sealer.seal(req.comment, "survey_responses.comment"), req.at,
            )
        inserted = int(result.split()[-1])
        if inserted:  # the comment is the customer's own words: not logged
            log.info("survey answered", case_id=req.case_id, score=req.score)
        return Recorded(inserted=inserted)
