"""The operator's day (issue 30): the sentences its features add, now in the message catalogues (issue 23).

The case sheet's lead and closing summary, the "as of" of relative figures, "did you mean", the re-opening's
answers and what a refusal says to do next: ids `op.<key>` in crisisdesk/locale/*/LC_MESSAGES/messages.po,
filled with `say(key, **facts)`; the callers pass facts (names, times, counts), never sentences. The
language is the reader's where it is known (`crisisdesk.i18n.READER`: the case sheet sets the project's,
the API the caller's, the CLI CRISIS_LOCALE), else English. Pure: safe inside the workflow sandbox.
"""

from crisisdesk import i18n


def say(key: str, **facts: object) -> str:
    """The sentence `key`, filled with `facts`, in the reader's language."""
    return i18n.text(i18n.READER.get(), f"op.{key}", tz=i18n.READER_ZONE.get(), **facts)
