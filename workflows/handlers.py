"""One signal and one update per action, declared on the case's class by `@with_action_handlers`.

Each takes whatever it is sent (`*args`: any number and shape of inputs) and hands it to the case's
`on_action`, which refuses and records what it cannot use. The Web UI lists them by name, with the
guide's description (`crisisdesk.guide.describe`) in its dialogs.
"""

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from crisisdesk.models.actions import ACTION_NAMES
    from crisisdesk.models.case import ActionResult
    from crisisdesk.guide import describe


def _handlers(name: str) -> tuple[Any, Any]:
    async def signal(self, *args: Any) -> None:
        await self.on_action(name, args, "signal")

    async def update(self, *args: Any) -> ActionResult:
        return await self.on_action(name, args, "update")

    signal.__name__, update.__name__ = f"signal_{name}", f"update_{name}"
    text = describe(name)
    return workflow.signal(name=name, description=text)(signal), workflow.update(name=name, description=text)(update)


def with_action_handlers(cls: type) -> type:
    """Class decorator (below `@workflow.defn`): adds `signal_<action>` and `update_<action>` for every action."""
    for name in ACTION_NAMES:
        signal, update = _handlers(name)
        setattr(cls, signal.__name__, signal)
        setattr(cls, update.__name__, update)
    return cls
