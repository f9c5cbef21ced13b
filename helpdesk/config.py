"""The help desk's configuration: read once at start-up, frozen, passed down.

The defaults here are the embedded defaults used when no file is given; the
repository's ``config.toml`` spells every one of them out. Secrets never live in
the file: a key such as ``password_env`` names the environment variable.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from helpdesk.config_loader import ENV_OF, INTERNAL, REQUIRED_WHEN_ENABLED, ConfigError, build

Security = Literal["tls", "starttls", "none"]


@dataclass(frozen=True)
class AppConfig:
    data_dir: str = "var"
    timezone: str = "Asia/Jakarta"
    # Public address of this help desk; links in emails (feedback, surveys) use it.
    base_url: str = "http://127.0.0.1:8000"
    language: Literal["id", "en"] = "id"
    service_name: str = "Tanya PTSP"
    secret_key_env: str = "TANYA_SECRET_KEY"
    secret_key: str | None = field(default=None, metadata={ENV_OF: "secret_key_env"})
    admin_email: str = "admin@localhost"
    admin_password_env: str = "TANYA_ADMIN_PASSWORD"
    admin_password: str | None = field(default=None, metadata={ENV_OF: "admin_password_env"})


@dataclass(frozen=True)
class DatabaseConfig:
    # Empty: an SQLite file in the data directory. TANYA_DATABASE_URL overrides.
    url: str = ""
    echo: bool = False
    pool_size: int = 10


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    secure_cookies: bool = False
    max_body_bytes: int = 1_048_576
    api_token_env: str = "TANYA_API_TOKEN"
    api_token: str | None = field(default=None, metadata={ENV_OF: "api_token_env"})


@dataclass(frozen=True)
class TicketConfig:
    # A reply to a resolved ticket within this many days reopens it; later it
    # opens a new ticket linked to the old one.
    reopen_days: int = 7
    default_queue: str = "umum"
    attachment_max_bytes: int = 10_485_760


@dataclass(frozen=True)
class OutboxConfig:
    max_attempts: int = 8
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    poll_interval_seconds: float = 1.0
    # A send that has not reported back after this long is tried again.
    lease_seconds: float = 300.0


@dataclass(frozen=True)
class KnowledgeBaseConfig:
    # Empty: the starter FAQ shipped with the package.
    path: str = ""
    suggest_min: float = 54.0
    auto_answer_min: float = 80.0
    suggest_rate_per_minute: int = 60


@dataclass(frozen=True)
class EmailMailboxConfig:
    name: str
    host: str
    username: str
    address: str
    port: int = 993
    security: Security = "tls"
    password_env: str = "TANYA_IMAP_PASSWORD"
    password: str | None = field(default=None, metadata={ENV_OF: "password_env",
                                                        REQUIRED_WHEN_ENABLED: True})
    folder: str = "INBOX"
    processed_folder: str = ""
    poll_interval_seconds: float = 60.0
    enabled: bool = True


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 587
    security: Security = "starttls"
    username: str = ""
    password_env: str = "TANYA_SMTP_PASSWORD"
    password: str | None = field(default=None, metadata={ENV_OF: "password_env"})
    from_address: str = "tanya@ptsp.localhost"
    from_name: str = "Tanya PTSP"
    timeout_seconds: float = 30.0
    enabled: bool = False


@dataclass(frozen=True)
class TelegramConfig:
    enabled: bool = False
    token_env: str = "TANYA_TELEGRAM_TOKEN"
    token: str | None = field(default=None, metadata={ENV_OF: "token_env",
                                                     REQUIRED_WHEN_ENABLED: True})
    mode: Literal["polling", "webhook"] = "polling"
    webhook_secret_env: str = "TANYA_TELEGRAM_WEBHOOK_SECRET"
    webhook_secret: str | None = field(default=None, metadata={ENV_OF: "webhook_secret_env"})
    base_url: str = ""
    base_file_url: str = ""
    allowed_group_ids: tuple[int, ...] = ()
    poll_timeout_seconds: int = 30


@dataclass(frozen=True)
class WebchatConfig:
    enabled: bool = True
    max_message_chars: int = 2000
    messages_per_minute_per_token: int = 20
    messages_per_minute_per_ip: int = 60
    attachment_max_bytes: int = 5_242_880
    attachment_types: tuple[str, ...] = ("image/png", "image/jpeg", "application/pdf")
    # Pages allowed to embed the widget (scheme://host); empty allows any.
    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhoneConfig:
    watch_dir: str = ""
    format: Literal["asterisk", "generic"] = "asterisk"
    timezone: str = "Asia/Jakarta"
    callback_queue: str = "telepon-balik"
    generic_columns: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = False


@dataclass(frozen=True)
class ChannelsConfig:
    email: tuple[EmailMailboxConfig, ...] = ()
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    webchat: WebchatConfig = field(default_factory=WebchatConfig)
    phone: PhoneConfig = field(default_factory=PhoneConfig)


@dataclass(frozen=True)
class BusinessHoursConfig:
    # Opening periods per weekday ("HH:MM-HH:MM"); a day left out is closed.
    week: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {
        "mon": ("08:00-12:00", "13:00-16:00"),
        "tue": ("08:00-12:00", "13:00-16:00"),
        "wed": ("08:00-12:00", "13:00-16:00"),
        "thu": ("08:00-12:00", "13:00-16:00"),
        "fri": ("08:00-11:30", "13:00-16:30"),
    })
    holidays_country: str = "ID"
    include_cuti_bersama: bool = True
    extra_holidays: tuple[str, ...] = ()
    extra_working_days: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlaPolicyConfig:
    """Targets in business minutes for the tickets it matches.

    A condition left empty matches anything; the first matching policy wins.
    """

    name: str
    first_response_minutes: int
    resolution_minutes: int
    queues: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()


def _default_sla_policies() -> tuple[SlaPolicyConfig, ...]:
    return (
        SlaPolicyConfig(name="mendesak", priorities=(1,), first_response_minutes=60,
                        resolution_minutes=840),
        SlaPolicyConfig(name="telepon-balik", queues=("telepon-balik",),
                        first_response_minutes=120, resolution_minutes=420),
        SlaPolicyConfig(name="chat", channels=("telegram", "webchat"),
                        first_response_minutes=30, resolution_minutes=1260),
    )


@dataclass(frozen=True)
class SlaConfig:
    # Used when no policy matches (business minutes; a working day is 420).
    first_response_minutes: int = 240
    resolution_minutes: int = 2100
    # The assignee is warned when this share of a target has passed.
    warn_share: float = 0.75
    # A breached ticket is raised to this priority (1 urgent) and supervisors are told.
    breach_priority: int = 1
    sweep_interval_seconds: float = 60.0
    policies: tuple[SlaPolicyConfig, ...] = field(default_factory=_default_sla_policies)


@dataclass(frozen=True)
class RoutingRuleConfig:
    """One routing rule: every condition given must hold (any value of a list).

    ``faq_categories`` tests the category of the best FAQ suggestion;
    ``keywords`` are matched as whole normalised words (so "ijin" finds "izin");
    ``email_domains``, ``identity_kinds`` and ``senders`` test the contact;
    ``flags`` are marks the channel set on the message (``callback_needed``).
    """

    name: str
    queue: str = ""
    priority: int = 0  # 0 keeps the ticket's priority
    category: str = ""  # empty: the best FAQ suggestion's category
    faq_categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    email_domains: tuple[str, ...] = ()
    identity_kinds: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


def _default_routing_rules() -> tuple[RoutingRuleConfig, ...]:
    complaint_words = ("pungli", "suap", "calo", "sogok", "pemerasan", "uang pelicin",
                       "pengaduan", "komplain", "keluhan", "kecewa")
    return (
        RoutingRuleConfig(name="pengaduan-faq", faq_categories=("pengaduan",),
                          queue="pengaduan", priority=1, category="pengaduan"),
        RoutingRuleConfig(name="pengaduan-kata", keywords=complaint_words,
                          queue="pengaduan", priority=1, category="pengaduan"),
        RoutingRuleConfig(name="telepon-balik", channels=("phone",), flags=("callback_needed",),
                          queue="telepon-balik", category="telepon"),
        RoutingRuleConfig(name="investasi", faq_categories=("penanaman_modal",),
                          queue="investasi", category="penanaman_modal"),
        RoutingRuleConfig(name="investasi-kata",
                          keywords=("lkpm", "investasi", "penanaman modal", "pma", "pmdn",
                                    "bkpm"),
                          queue="investasi", category="penanaman_modal"),
    )


@dataclass(frozen=True)
class RoutingConfig:
    # Tickets no rule matches go to tickets.default_queue.
    rules: tuple[RoutingRuleConfig, ...] = field(default_factory=_default_routing_rules)


@dataclass(frozen=True)
class AutoAnswerConfig:
    enabled: bool = True
    # Phone is never answered automatically, whatever this says.
    channels: tuple[str, ...] = ("email", "telegram", "webchat")
    question: str = "Apakah jawaban ini membantu?"
    # How long the resident may say whether the answer helped, per channel.
    hold_minutes: Mapping[str, int] = field(default_factory=lambda: {
        "email": 2880, "telegram": 60, "webchat": 30})
    default_hold_minutes: int = 60
    # Email auto-answers per address per day: a loop with another robot stops here.
    email_per_address_per_day: int = 3
    sweep_interval_seconds: float = 30.0


@dataclass(frozen=True)
class AssignmentConfig:
    enabled: bool = True
    interval_seconds: float = 5.0
    batch_size: int = 200
    # A consultant going offline gives back the new tickets they have not touched.
    return_on_offline: bool = True


@dataclass(frozen=True)
class SatisfactionConfig:
    enabled: bool = True
    channels: tuple[str, ...] = ("email", "telegram", "webchat")
    question: str = ("Bagaimana penilaian Anda atas layanan kami? "
                     "(1 = sangat kurang, 5 = sangat baik)")


@dataclass(frozen=True)
class WebhookConfig:
    name: str
    url: str
    # Empty: every event (ticket.created, .assigned, .replied, .resolved, .breached).
    events: tuple[str, ...] = ()
    secret_env: str = "TANYA_WEBHOOK_SECRET"
    secret: str | None = field(default=None, metadata={ENV_OF: "secret_env",
                                                      REQUIRED_WHEN_ENABLED: True})
    timeout_seconds: float = 10.0
    enabled: bool = True


@dataclass(frozen=True)
class Config:
    app: AppConfig = field(default_factory=AppConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    tickets: TicketConfig = field(default_factory=TicketConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    knowledge_base: KnowledgeBaseConfig = field(default_factory=KnowledgeBaseConfig)
    channels: ChannelsConfig = field(default_factory=ChannelsConfig)
    business_hours: BusinessHoursConfig = field(default_factory=BusinessHoursConfig)
    sla: SlaConfig = field(default_factory=SlaConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    auto_answer: AutoAnswerConfig = field(default_factory=AutoAnswerConfig)
    assignment: AssignmentConfig = field(default_factory=AssignmentConfig)
    satisfaction: SatisfactionConfig = field(default_factory=SatisfactionConfig)
    webhooks: tuple[WebhookConfig, ...] = ()
    # Where relative paths in the file are resolved from.
    base_dir: str = field(default=".", metadata={INTERNAL: True})

    @property
    def data_path(self) -> Path:
        return (Path(self.base_dir) / self.app.data_dir).resolve()

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.data_path / 'tanya.db'}"


def load_config(path: str | os.PathLike[str] | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Read the configuration: ``path``, else ``TANYA_CONFIG``, else the defaults.

    Raises :class:`ConfigError` naming the file and key of the first mistake.
    """
    env = os.environ if environ is None else environ
    chosen = path or env.get("TANYA_CONFIG") or None
    if chosen is None:
        raw: dict[str, object] = {}
        source = "built-in defaults"
        base_dir = Path.cwd()
    else:
        file = Path(chosen)
        source = str(file)
        try:
            with file.open("rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(source, "(file)", "no such file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, "(syntax)", str(exc)) from None
        base_dir = file.resolve().parent
    config = replace(build(Config, raw, source=source, environ=env), base_dir=str(base_dir))
    override = env.get("TANYA_DATABASE_URL")
    if override:
        config = replace(config, database=replace(config.database, url=override))
    _check(config, source)
    return config


def _check(config: Config, source: str) -> None:
    """Checks that need more than one key's type."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(config.app.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(source, "app.timezone",
                          f"unknown time zone {config.app.timezone!r}") from None
    kb = config.knowledge_base
    if not 0 <= kb.suggest_min <= kb.auto_answer_min <= 100:
        raise ConfigError(source, "knowledge_base.auto_answer_min",
                          "thresholds must satisfy 0 <= suggest_min <= auto_answer_min <= 100")
    names = [m.name for m in config.channels.email]
    if len(set(names)) != len(names):
        raise ConfigError(source, "channels.email.name", "mailbox names must be unique")
    for day, periods in config.business_hours.week.items():
        key = f"business_hours.week.{day}"
        if day not in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            raise ConfigError(source, key, "weekday must be one of mon, tue, ... sun")
        for period in periods:
            if not _is_period(period):
                raise ConfigError(source, key, f"expected 'HH:MM-HH:MM', got {period!r}")
    _check_decisions(config, source)


def _check_decisions(config: Config, source: str) -> None:
    """Routing, SLA and auto-answer settings that the types alone cannot check."""
    from datetime import date

    for key in ("extra_holidays", "extra_working_days"):
        for text in getattr(config.business_hours, key):
            try:
                date.fromisoformat(text)
            except ValueError:
                raise ConfigError(source, f"business_hours.{key}",
                                  f"expected 'YYYY-MM-DD', got {text!r}") from None
    sla = config.sla
    if not 0 < sla.warn_share < 1:
        raise ConfigError(source, "sla.warn_share", "must be between 0 and 1")
    for i, policy in enumerate(sla.policies):
        if policy.first_response_minutes <= 0 or policy.resolution_minutes <= 0:
            raise ConfigError(source, f"sla.policies[{i}]", "targets must be positive minutes")
    names = [p.name for p in sla.policies]
    if len(set(names)) != len(names):
        raise ConfigError(source, "sla.policies.name", "policy names must be unique")
    for i, rule in enumerate(config.routing.rules):
        if rule.priority not in (0, 1, 2, 3):
            raise ConfigError(source, f"routing.rules[{i}].priority",
                              "must be 1 (urgent), 2 (normal), 3 (low) or 0 (keep)")
        if not (rule.queue or rule.priority or rule.category):
            raise ConfigError(source, f"routing.rules[{i}]",
                              "a rule must set a queue, a priority or a category")
    names = [r.name for r in config.routing.rules]
    if len(set(names)) != len(names):
        raise ConfigError(source, "routing.rules.name", "rule names must be unique")
    for i, hook in enumerate(config.webhooks):
        if not hook.url.startswith(("http://", "https://")):
            raise ConfigError(source, f"webhooks[{i}].url", "expected an http(s) URL")


def _is_period(text: str) -> bool:
    try:
        start, end = text.split("-")
        sh, sm = (int(x) for x in start.split(":"))
        eh, em = (int(x) for x in end.split(":"))
    except ValueError:
        return False
    return 0 <= sh < 24 and 0 <= sm < 60 and 0 <= eh <= 24 and 0 <= em < 60 and (sh, sm) < (eh, em)
