"""One case telling another: a group complaint's `link` tells the open case it has one more reporter.

A workflow could signal the other case itself, but that signal would carry no identity the other
case can check (crisisdesk.stamps); sent from here, it is signed as crisisdesk's own (`system`).
"""

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from crisisdesk.acting import acting, carrying_acting
from crisisdesk.logs import log
from crisisdesk.models.effects import TellCase, Told
from crisisdesk.settings import Settings


class Relay:
    def __init__(self, settings: Settings) -> None:
        self.signer = settings.stamp_signer()

    @activity.defn(name="tell_case")
    async def tell_case(self, req: TellCase) -> Told:
        client = carrying_acting(activity.client(), self.signer)
        try:
            with acting("system"):
                await client.get_workflow_handle(req.case_id).signal(req.signal, req.payload)
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise ApplicationError(f"case {req.case_id} is not open", type="CaseNotOpen", non_retryable=True) from None
            raise
        log.info("case told", case_id=req.case_id, signal=req.signal, by_case=req.from_case)
        return Told()
