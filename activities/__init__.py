"""Activities: everything a case does to the world (PostgreSQL, mail, webhooks, files).

Each job is a class given its dependencies; the worker registers the bound methods returned by
`build_activities`. Every activity takes one model from `crisisdesk.models.effects` and is
idempotent on the key it carries, so Temporal may retry it freely.
"""

import asyncpg

from activities.case_audit import CaseAudit
from activities.backup import StackBackups
from activities.directory import DirectoryCheck
from activities.evidence import EvidenceStore, read_evidence
from activities.knowledge import Knowledge, search_knowledge
from activities.notify import Notifier
from activities.quality import QualityWatch
from activities.privacy import purge_personal_data
from activities.records import CaseRecords
from activities.relay import Relay
from activities.retention import Retention
from activities.reports import Reports, render_case_report
from activities.service_reports import ServiceReports
from activities.surveys import Surveys
from crisisdesk.settings import Settings

__all__ = [
    "build_activities", "purge_personal_data", "read_evidence", "render_case_report", "search_knowledge",
    "CaseRecords", "EvidenceStore", "Knowledge", "Notifier", "Reports", "Surveys",
]


def build_activities(pool: asyncpg.Pool, settings: Settings) -> list:
    """The bound activity methods, one instance of each class per worker."""
    records = CaseRecords(pool, settings)
    notifier = Notifier(pool, settings)
    evidence = EvidenceStore(pool, settings)
    reports = Reports(pool, settings, notifier)
    surveys = Surveys(pool, notifier, records.sealer)
    knowledge = Knowledge(pool)
    directory = DirectoryCheck(pool, settings)
    quality = QualityWatch(pool, settings, notifier)
    service_reports = ServiceReports(pool, settings, notifier)
    retention = Retention(pool, settings)
    audit = CaseAudit(pool, settings, notifier)
    backups = StackBackups(settings)
    return [
        records.open_case,
        records.record_timeline,
        records.store_stakeholder,
        notifier.notify,
        evidence.capture_evidence,
        reports.write_report,
        surveys.send_survey,
        surveys.record_survey,
        knowledge.save_knowledge,
        knowledge.similar_knowledge,
        directory.check_people,
        directory.stamp_keys,
        quality.watch_quality,
        service_reports.write_service_report,
        service_reports.send_service_report,
        retention.purge_expired,
        audit.audit_cases,
        backups.take_stack_backup,
        Relay(settings).tell_case,
    ]
