"""Settings of the allocation service: environment variables prefixed QAF_ALLOCATION_."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from qaf_shared.settings import ServiceSettings


class AllocationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QAF_ALLOCATION_", extra="ignore", env_nested_delimiter="__")

    service_name: str = "allocation"
    http_port: int = 8001
    sample_size: int = Field(default=50, ge=1, description="Cases drawn each month.")
    window_months: int = Field(default=6, ge=1, description="A case is drawn if open during these months.")
    recent_audit_months: int = Field(
        default=12, ge=0, description="A case audited (allocated or completed) this recently is not drawn."
    )
    target_min: int = Field(default=450, ge=0, description="Yearly target of completed audits: lower bound.")
    target_max: int = Field(default=500, ge=0, description="Yearly target of completed audits: upper bound.")
    year_start_month: int = Field(default=4, ge=1, le=12, description="First month of the target year (April).")
    scheduler_enabled: bool = Field(
        default=True, description="Draw automatically on the first working day of each month."
    )
    scheduler_interval_s: float = Field(default=3600.0, gt=0, description="How often the scheduler looks.")
