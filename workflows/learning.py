"""What a case learns and leaves behind (004 §六(一)): the knowledge base's similar articles at
triage, and the review's follow-up actions, tracked by a child workflow that outlives the case.

Mixed into CrisisWorkflow (`self.case` is its CaseFile).
"""

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from crisisdesk.models import effects as fx
    from crisisdesk.models.followups import FOLLOW_UP_WORKFLOW, FollowUpItem, FollowUps, follow_ups_id
    from workflows.casefile import CaseFile

# A knowledge-base search at triage is a courtesy: two quick tries, never a wait on an outage.
SUGGEST = dict(start_to_close_timeout=timedelta(seconds=5), retry_policy=RetryPolicy(maximum_attempts=2))


class Learning:
    case: CaseFile

    async def suggest_knowledge(self, now: datetime) -> str:
        """Triage shows the knowledge base's articles most like this case (004 §六(一)); a search that
        fails leaves triage done and says so. `now` is the handler's (see `changed_at`)."""
        state = self.case.state
        try:
            found = await workflow.execute_local_activity(
                "similar_knowledge", fx.SimilarKnowledge(case_id=state.case_id, text=state.intake.summary,
                                                         category=state.category.value if state.category else None),
                result_type=fx.KnowledgeMatches, summary="similar knowledge-base articles", **SUGGEST)
        except ActivityError as err:
            self.case.record(now, "effect_failed", "similar_knowledge", error=str(err.cause or err)[:500])
            return "; the knowledge base could not be searched"
        state.similar_articles = [m.model_dump() for m in found.articles]
        if not found.articles:
            return "; no similar knowledge-base article"
        self.case.record(now, "knowledge_suggested", "triage", articles=state.similar_articles)
        return "; similar in the knowledge base: " + "; ".join(f"#{m.article_id} {m.title}" for m in found.articles)

    async def start_follow_ups(self, action) -> None:
        """The review's follow-up actions live on after the case: a child that outlives it."""
        state = self.case.state
        plan = FollowUps(case_id=state.case_id, project_id=state.intake.project.id, locale=state.intake.project.locale,
                         timezone=state.intake.project.timezone, head=state.roles.get("head"),
                         items=[FollowUpItem(what=f.what, owner=f.owner, due_at=f.due_at) for f in action.follow_ups])
        await workflow.start_child_workflow(
            FOLLOW_UP_WORKFLOW, plan, id=follow_ups_id(state.case_id), parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"follow-ups of {state.case_id}")
