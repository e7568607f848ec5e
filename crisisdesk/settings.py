"""One typed settings object, read from the environment variables of docs/contract.md."""

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crisisdesk.names import DEFAULT_TASK_QUEUE


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = Field(DEFAULT_TASK_QUEUE, validation_alias="CRISIS_TASK_QUEUE")
    database_url: SecretStr | None = None
    intake_token: SecretStr | None = None
    playbook: str = Field("delivery", validation_alias="CRISIS_PLAYBOOK")
    playbook_dir: Path | None = Field(None, validation_alias="CRISIS_PLAYBOOK_DIR")
    encryption_key: SecretStr | None = Field(None, validation_alias="CRISIS_ENCRYPTION_KEY")
    smtp_url: SecretStr | None = None
    webhook_url: SecretStr | None = None
    log_format: Literal["console", "json"] = "console"
    # Evidence: how much inline content a case accepts, and where URIs may point.
    evidence_max_bytes: int = Field(20 * 1024 * 1024, validation_alias="CRISIS_EVIDENCE_MAX_BYTES")
    # Inline (base64) evidence travels in the case's history: kept well under Temporal's 2 MB payload limit.
    evidence_inline_max_bytes: int = Field(1024 * 1024, validation_alias="CRISIS_EVIDENCE_INLINE_MAX_BYTES")
    evidence_dir: Path = Field(Path(".data/evidence"), validation_alias="CRISIS_EVIDENCE_DIR")
    evidence_allowed_dirs: list[Path] = Field(default_factory=list, validation_alias="CRISIS_EVIDENCE_ALLOWED_DIRS")
    evidence_allowed_hosts: list[str] = Field(default_factory=list, validation_alias="CRISIS_EVIDENCE_ALLOWED_HOSTS")
    report_dir: Path = Field(Path(".data/reports"), validation_alias="CRISIS_REPORT_DIR")
    # -- identity (issue 9): how callers authenticate; `none` is the embedded stack's one local user
    auth: Literal["none", "tokens", "oidc"] = Field("none", validation_alias="CRISIS_AUTH")
    oidc_issuer: str | None = Field(None, validation_alias="CRISIS_OIDC_ISSUER")
    oidc_audience: str | None = Field(None, validation_alias="CRISIS_OIDC_AUDIENCE")
    oidc_person_claim: str = Field("sub", validation_alias="CRISIS_OIDC_PERSON_CLAIM")
    token: SecretStr | None = Field(None, validation_alias="CRISIS_TOKEN",
                                    description="the CLI's personal credential when CRISIS_AUTH is not none")
    stamp_key: SecretStr | None = Field(
        None, validation_alias="CRISIS_STAMP_KEY",
        description="the edges' identity-stamp signing keys (base64 Ed25519 seeds, comma-separated: the first signs, "
                    "all verify); the API and the worker need it when CRISIS_AUTH is not none (crisisdesk.stamps)")
    api_url: str | None = Field(None, validation_alias="CRISIS_API_URL",
                                description="the intake API, where the CLI has its actions stamped (crisis dev's is found "
                                            "through .data/stack.json)")
    # Management: metrics, quality targets and periodic service reports (issue 13).
    quality_targets: Path | None = Field(None, validation_alias="CRISIS_QUALITY_TARGETS")
    management_recipients: list[str] = Field(default_factory=list, validation_alias="CRISIS_MANAGEMENT_RECIPIENTS")
    report_timezone: str | None = Field(None, validation_alias="CRISIS_REPORT_TIMEZONE",
                                        description="IANA zone of the schedules and management's reports (CRISIS_TIMEZONE "
                                                    "when unset)")
    # Language and local time (issue 23): the default for projects that set none; a project's own
    # `locale`/`timezone`, a person's and a reporter's locale override it for their readers.
    locale: str = Field("en", validation_alias="CRISIS_LOCALE", description="en or zh-CN: the default reader's language")
    timezone: str = Field("UTC", validation_alias="CRISIS_TIMEZONE", description="IANA zone times are written in")
    report_weekly_cron: str = Field("0 7 * * 1", validation_alias="CRISIS_REPORT_WEEKLY_CRON")
    report_monthly_cron: str = Field("0 7 1 * *", validation_alias="CRISIS_REPORT_MONTHLY_CRON")
    quality_watch_every: timedelta = Field(timedelta(hours=1), gt=timedelta(0), validation_alias="CRISIS_QUALITY_WATCH_EVERY")

    # -- reach (issue 10) ----------------------------------------------------------------------
    default_team: dict[str, str] = Field(
        default_factory=dict, validation_alias="CRISIS_DEFAULT_TEAM",
        description="JSON role → person id: who holds a role no case and no project team names")
    # Channels people answer, and acknowledgement links (issue 10, part 2).
    wecom_webhook: SecretStr | None = Field(None, validation_alias="CRISIS_WECOM_WEBHOOK")
    dingtalk_webhook: SecretStr | None = Field(None, validation_alias="CRISIS_DINGTALK_WEBHOOK")
    dingtalk_secret: SecretStr | None = Field(None, validation_alias="CRISIS_DINGTALK_SECRET")
    feishu_webhook: SecretStr | None = Field(None, validation_alias="CRISIS_FEISHU_WEBHOOK")
    feishu_secret: SecretStr | None = Field(None, validation_alias="CRISIS_FEISHU_SECRET")
    sms_provider: Literal["twilio"] | None = Field(None, validation_alias="CRISIS_SMS_PROVIDER")
    sms_account: str | None = Field(None, validation_alias="CRISIS_SMS_ACCOUNT")
    sms_token: SecretStr | None = Field(None, validation_alias="CRISIS_SMS_TOKEN")
    sms_from: str | None = Field(None, validation_alias="CRISIS_SMS_FROM")
    sms_base_url: str = Field("https://api.twilio.com", validation_alias="CRISIS_SMS_BASE_URL")
    # Voice calls (issue 26, 002 §4.3.1: the head is *phoned*): Aliyun's voice notification (语音通知) API.
    voice_provider: Literal["aliyun"] | None = Field(None, validation_alias="CRISIS_VOICE_PROVIDER")
    voice_access_key_id: str | None = Field(None, validation_alias="CRISIS_VOICE_ACCESS_KEY_ID")
    voice_access_key_secret: SecretStr | None = Field(None, validation_alias="CRISIS_VOICE_ACCESS_KEY_SECRET")
    voice_tts_code: str | None = Field(None, validation_alias="CRISIS_VOICE_TTS_CODE",
                                       description="the approved text-to-speech template (TTS_…) the call reads")
    voice_show_number: str | None = Field(None, validation_alias="CRISIS_VOICE_SHOW_NUMBER",
                                          description="the number the call shows (blank: the public pool's)")
    voice_endpoint: str = Field("dyvmsapi.aliyuncs.com", validation_alias="CRISIS_VOICE_ENDPOINT")
    voice_answer_wait: timedelta = Field(
        timedelta(seconds=30), ge=timedelta(0), le=timedelta(seconds=40), validation_alias="CRISIS_VOICE_ANSWER_WAIT",
        description="how long the call's outcome is waited for before the person's next channel is tried (at most "
                    "PT40S: the notification's activity has a minute for every channel)")
    voice_kinds: list[str] = Field(
        ["alert", "escalated", "escalation"], validation_alias="CRISIS_VOICE_KINDS",
        description="notification kinds a person with a voice contact is phoned for first; other kinds never call")
    urgent_kinds: list[str] = Field(
        ["alert", "escalated", "escalation", "contingency"], validation_alias="CRISIS_URGENT_KINDS",
        description="notification kinds sent on every channel of a person; the others go to the first that works")
    ack_secret: SecretStr | None = Field(None, validation_alias="CRISIS_ACK_SECRET")
    public_url: str | None = Field(None, validation_alias="CRISIS_PUBLIC_URL",
                                   description="where the API's /ack/{token} is reached from people's phones")
    ack_ttl: timedelta = Field(timedelta(hours=24), gt=timedelta(0), validation_alias="CRISIS_ACK_TTL")
    # -- the customer's page (issue 24) -----------------------------------------------------------
    customer_secret: SecretStr | None = Field(
        None, validation_alias="CRISIS_CUSTOMER_SECRET",
        description="signs customer links (/c/<token>); unset: derived from CRISIS_STAMP_KEY")
    customer_webhook: SecretStr | None = Field(
        None, validation_alias="CRISIS_CUSTOMER_WEBHOOK",
        description="a customer-facing robot (WeChat relay): messages to reporters with a WeChat contact are POSTed here")
    customer_link_ttl: timedelta = Field(timedelta(days=90), gt=timedelta(0), validation_alias="CRISIS_CUSTOMER_LINK_TTL",
                                         description="how long a customer link works after it is issued")
    customer_rate: int = Field(30, ge=0, validation_alias="CRISIS_CUSTOMER_RATE",
                               description="requests a minute one customer link may take on /c/* (and one address with "
                                           "links that fail their signature; an address in all: 20 times it; 0: no limit)")
    customer_burst: int = Field(20, ge=1, validation_alias="CRISIS_CUSTOMER_BURST")
    group_window: timedelta = Field(
        timedelta(hours=48), ge=timedelta(0), validation_alias="CRISIS_GROUP_WINDOW",
        description="an intake joins an open case of the same project, category and location received within this; 0: off")

    # -- records (issue 27): how long personal data outlives a case, and when retention runs -------
    retention: timedelta = Field(timedelta(days=365), gt=timedelta(0), validation_alias="CRISIS_RETENTION",
                                 description="personal data of a case closed or cancelled longer ago than this is erased")
    retention_cron: str = Field("0 3 * * *", validation_alias="CRISIS_RETENTION_CRON",
                                description="when the daily crisis-privacy-purge runs (CRISIS_REPORT_TIMEZONE)")
    case_audit_every: timedelta = Field(
        timedelta(minutes=15), gt=timedelta(0), validation_alias="CRISIS_CASE_AUDIT_EVERY",
        description="how often crisis-case-audit looks for cases terminated or reset outside crisisdesk")
    # -- the edges' guards (issue 21) ----------------------------------------------------------
    action_rate: int = Field(
        60, ge=0, validation_alias="CRISIS_ACTION_RATE",
        description="actions a minute one caller may send to one case through the API (0: no limit); "
                    "over it: 429 with Retry-After")
    action_burst: int = Field(60, ge=1, validation_alias="CRISIS_ACTION_BURST",
                              description="actions one caller may send to one case at once before the rate applies")
    access_unscoped: Literal["all", "none"] = Field(
        "all", validation_alias="CRISIS_ACCESS_UNSCOPED",
        description="what a person whose directory entry lists no project and no region sees: every case "
                    "(all, as before scopes existed) or none")

    @model_validator(mode="after")
    def _channels_complete(self) -> "Settings":
        """A channel configured without its secret would fail at 2 a.m.: refuse it when the process starts."""
        needs = [("dingtalk_webhook", "dingtalk_secret", "CRISIS_DINGTALK_SECRET", "CRISIS_DINGTALK_WEBHOOK"),
                 ("feishu_webhook", "feishu_secret", "CRISIS_FEISHU_SECRET", "CRISIS_FEISHU_WEBHOOK"),
                 ("public_url", "ack_secret", "CRISIS_ACK_SECRET", "CRISIS_PUBLIC_URL")]
        if self.sms_provider is not None:
            needs += [("sms_provider", need, env, "CRISIS_SMS_PROVIDER") for need, env in
                      (("sms_account", "CRISIS_SMS_ACCOUNT"), ("sms_token", "CRISIS_SMS_TOKEN"),
                       ("sms_from", "CRISIS_SMS_FROM"))]
        if self.voice_provider is not None:
            needs += [("voice_provider", need, env, "CRISIS_VOICE_PROVIDER") for need, env in
                      (("voice_access_key_id", "CRISIS_VOICE_ACCESS_KEY_ID"),
                       ("voice_access_key_secret", "CRISIS_VOICE_ACCESS_KEY_SECRET"),
                       ("voice_tts_code", "CRISIS_VOICE_TTS_CODE"))]
        for have, need, env, because in needs:
            value = getattr(self, need)
            value = value.get_secret_value() if isinstance(value, SecretStr) else value
            if getattr(self, have) is not None and not (value and str(value).strip()):
                raise ValueError(f"{env}: required when {because} is set (the channel cannot sign or log in without it)")
        return self

    # -- the worker's capacity (issue 14; README "Tuning the worker" says what was measured) --------
    worker_cached_workflows: int = Field(1000, ge=0, validation_alias="CRISIS_WORKER_CACHED_WORKFLOWS",
                                         description="cases kept in memory between tasks (sticky cache)")
    worker_workflow_tasks: int = Field(100, ge=1, validation_alias="CRISIS_WORKER_WORKFLOW_TASKS")
    worker_activities: int = Field(100, ge=1, validation_alias="CRISIS_WORKER_ACTIVITIES")
    worker_local_activities: int = Field(100, ge=1, validation_alias="CRISIS_WORKER_LOCAL_ACTIVITIES")
    # 1,000 deadlines due together: p99 3.2 s late with the SDK's 5 pollers and 10 connections, 2.6 s
    # with 20 and 20 (50 workflow pollers: 3.0 s); measured with benchmarks/cost.py on 2 cores.
    worker_workflow_pollers: int = Field(20, ge=1, validation_alias="CRISIS_WORKER_WORKFLOW_POLLERS")
    worker_activity_pollers: int = Field(20, ge=1, validation_alias="CRISIS_WORKER_ACTIVITY_POLLERS")
    db_pool_size: int = Field(20, ge=1, validation_alias="CRISIS_DB_POOL_SIZE",
                              description="PostgreSQL connections per worker process")

    # -- admission (issue 28): a burst of intakes beyond what the stack absorbs is told to come back --
    intake_max_in_flight: int = Field(
        64, ge=1, validation_alias="CRISIS_INTAKE_MAX_IN_FLIGHT",
        description="intakes one API process starts at once; past that POST /intakes answers 503 with Retry-After")
    intake_start_timeout: timedelta = Field(
        timedelta(seconds=10), gt=timedelta(0), validation_alias="CRISIS_INTAKE_START_TIMEOUT",
        description="how long an intake waits for Temporal to start its case before it is told to ask again")
    intake_retry_after: int = Field(2, ge=1, validation_alias="CRISIS_INTAKE_RETRY_AFTER",
                                    description="seconds the Retry-After of a refused intake asks for")

    # -- deploy (issue 15): what a worker exposes to Prometheus -------------------------------------
    worker_metrics_address: str | None = Field(
        None, validation_alias="CRISIS_WORKER_METRICS_ADDRESS",
        description="host:port of the worker's Prometheus endpoint (SDK metrics at /metrics); unset: none")
    worker_shutdown_grace: timedelta = Field(
        timedelta(seconds=10), ge=timedelta(0), validation_alias="CRISIS_WORKER_SHUTDOWN_GRACE",
        description="how long a stopping worker lets running activities finish before cancelling them")

    # -- the embedded stack (issue 29): where `crisis dev` describes itself, and its daily backup -----
    stack_file: Path | None = Field(
        None, validation_alias="CRISIS_STACK_FILE",
        description="the running `crisis dev`'s stack.json (commands default to .data/stack.json)")
    backup_dir: Path | None = Field(None, validation_alias="CRISIS_BACKUP_DIR",
                                    description="set: a daily backup of the embedded stack goes here; unset: none")
    backup_keep: int = Field(7, ge=1, validation_alias="CRISIS_BACKUP_KEEP",
                             description="how many daily backup files to keep")
    backup_cron: str = Field("0 3 * * *", validation_alias="CRISIS_BACKUP_CRON",
                             description="when the daily backup runs (in CRISIS_REPORT_TIMEZONE)")

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        from crisisdesk.i18n import check_locale
        return check_locale(value, "CRISIS_LOCALE") or "en"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from crisisdesk.i18n import check_timezone
        return check_timezone(value, "CRISIS_TIMEZONE") or "UTC"

    @field_validator("report_timezone")
    @classmethod
    def _known_report_zone(cls, value: str | None) -> str | None:
        from crisisdesk.i18n import check_timezone
        return check_timezone(value, "CRISIS_REPORT_TIMEZONE")

    @property
    def reports_zone(self) -> str:
        """The zone schedules run in and management reads its reports in."""
        return self.report_timezone or self.timezone

    @field_validator("database_url")
    @classmethod
    def _postgres_dsn(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must be a postgresql:// DSN")
        return value

    @field_validator("encryption_key")
    @classmethod
    def _usable_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from crisisdesk.codec import EncryptionCodec

            EncryptionCodec(value.get_secret_value())  # raises with the reason when a key is malformed
        return value

    @field_validator("stamp_key")
    @classmethod
    def _usable_stamp_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from crisisdesk.stamps import StampSigner

            StampSigner.from_text(value.get_secret_value())  # raises naming the variable when malformed
        return value

    def customer_link_secret(self) -> bytes | None:
        """The key customer links are signed with (crisisdesk.customerlinks); None: customer links are off."""
        from crisisdesk.customerlinks import derive_secret

        return derive_secret(self.customer_secret.get_secret_value() if self.customer_secret else None,
                             self.stamp_key.get_secret_value() if self.stamp_key else None)

    def link_base_url(self) -> str:
        """Where people's phones reach the API: CRISIS_PUBLIC_URL, else the API's own address."""
        return (self.public_url or self.api_url or "http://127.0.0.1:8000").rstrip("/")

    def missing_stamp_key(self) -> str | None:
        """Why this process cannot serve: with authentication on, the API signs and the worker verifies."""
        if self.auth != "none" and self.stamp_key is None:
            return (f"CRISIS_STAMP_KEY: required with CRISIS_AUTH={self.auth}: the API signs who acts with it and the "
                    "worker verifies (make one: python -c 'import crisisdesk.stamps as s; print(s.new_seed())')")
        return None

    def stamp_signer(self):
        """The edges' signer, or None without a key (crisisdesk.stamps)."""
        from crisisdesk.stamps import StampSigner

        return StampSigner.from_text(self.stamp_key.get_secret_value()) if self.stamp_key else None

    def dsn(self) -> str:
        if self.database_url is None:
            raise RuntimeError("DATABASE_URL is not set: point it at PostgreSQL, or run `crisis dev`")
        return self.database_url.get_secret_value()


@lru_cache
def get_settings() -> Settings:
    return Settings()
