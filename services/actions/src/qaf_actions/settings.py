"""Settings of the actions service: environment variables prefixed QAF_ACTIONS_."""

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from qaf_shared.settings import ServiceSettings


class ActionsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QAF_ACTIONS_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "actions"
    http_port: int = 8005

    plan_file: Path | None = Field(
        default=None, description="Action plan YAML loaded as version 1 on first start (default: the packaged Appendix 1)."
    )
    clock: Literal["wall", "event"] = Field(
        default="wall",
        description="What 'today' is for drift and the digest schedule: the wall clock, or event time (the "
        "latest occurred_at consumed, for a simulated year that runs months in minutes).",
    )

    # The monthly QA Board and its digest
    board_weekday: int = Field(default=3, ge=0, le=6, description="Board meets on this weekday (0=Monday).")
    board_week: int = Field(default=3, description="...of this week of the month (1-4, or -1 for the last).")
    board_dates: list[date] = Field(default_factory=list, description="Explicit Board dates (win for their month).")
    digest_working_days_before: int = Field(
        default=5, ge=0, le=20, description="The digest is issued this many working days before the Board."
    )
    digest_since: date | None = Field(
        default=None, description="Issue scheduled digests due from this date (default: the first event time seen)."
    )
    schedule_enabled: bool = Field(
        default=True, description="Run the background schedule: drift at the clock's date, Board digests as they fall due."
    )
    schedule_poll_s: float = Field(default=30.0, gt=0, description="How often the schedule is looked at.")
    digest_output_dir: Path | None = Field(default=None, description="Also write each digest's PDF and HTML here.")

    # SMTP delivery to the Board
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server the digest is sent through.")
    smtp_port: int = Field(default=25, description="SMTP port.")
    smtp_username: str | None = Field(default=None, description="SMTP login (unset: no login).")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    smtp_use_tls: bool = Field(default=False, description="Connect over TLS from the start (port 465).")
    smtp_timeout_s: float = Field(default=30.0, description="SMTP connection timeout.")
    smtp_sender: str = Field(default="qa-board-digest@localhost", description="From address of the digest.")
    board_recipients: list[str] = Field(
        default_factory=list, description="Board members' addresses (unset: the digest is published, not mailed)."
    )

    # The audit programme's yearly target (report §3.1.3: 450 to 500 cases a year)
    yearly_target_low: int = Field(default=450, description="Audits a year the programme aims for: lower bound.")
    yearly_target_high: int = Field(default=500, description="...and upper bound.")
    year_start_month: int = Field(default=4, ge=1, le=12, description="The council's year starts in April.")
