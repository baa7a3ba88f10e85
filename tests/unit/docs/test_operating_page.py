"""docs/operating.md: its configuration reference is generated from the settings models and kept
fresh; the metrics and commands it names are the ones the code has."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from prometheus_client import REGISTRY

import qaf_shared.metrics  # noqa: F401  (registers the platform's metrics)
from qaf_devstack import settings_doc
from qaf_devstack.stack import SERVICES

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "operating.md"


def test_the_committed_configuration_reference_matches_the_settings_in_code() -> None:
    page = PAGE.read_text()
    assert settings_doc.replace_block(page, settings_doc.render()) == page, (
        "docs/operating.md is stale: run `make docs` and commit it"
    )


def test_the_check_command_fails_on_a_stale_page(tmp_path: Path, monkeypatch) -> None:
    stale = tmp_path / "operating.md"
    stale.write_text(settings_doc.replace_block(PAGE.read_text(), "| `QAF_REMOVED_LONG_AGO` | int | `1` | |\n"))
    monkeypatch.setattr(settings_doc, "PAGE", stale)
    monkeypatch.setattr(settings_doc, "ROOT", tmp_path)
    assert settings_doc.main(["--check"]) == 1
    assert settings_doc.main(["--write"]) == 0
    assert settings_doc.main(["--check"]) == 0
    assert stale.read_text() == PAGE.read_text()


def test_every_setting_of_every_service_is_in_the_reference_with_its_variable_and_default() -> None:
    block = settings_doc.render()
    classes = settings_doc.service_settings_classes()
    assert set(classes) == set(SERVICES)
    for cls in classes.values():
        prefix = settings_doc.env_prefix(cls)
        for name, field in cls.model_fields.items():
            if name == "kafka":
                continue
            shared = name in settings_doc.ServiceSettings.model_fields
            variable = f"QAF_<SERVICE>_{name.upper()}" if shared else f"{prefix}{name.upper()}"
            assert f"`{variable}`" in block, variable
    assert "| `QAF_ALLOCATION_SAMPLE_SIZE` | int | `50` | Cases drawn each month. |" in block
    assert "`QAF_REPORTING_HTTP_PORT` = `8004`" in block
    assert "| `KAFKA_SECURITY_PROTOCOL` | `PLAINTEXT` \\| `SSL` \\| `SASL_PLAINTEXT` \\| `SASL_SSL` | `PLAINTEXT` |" in block


def test_every_setting_says_what_it_does() -> None:
    assert settings_doc.undocumented() == []


def test_the_variables_named_are_the_ones_the_services_read(monkeypatch) -> None:
    # the reference says QAF_<SERVICE>_<NAME>: setting it must change the setting
    classes = settings_doc.service_settings_classes()
    monkeypatch.setenv("QAF_REPORTING_FLUSH_INTERVAL_MS", "123")
    monkeypatch.setenv("QAF_AUDITS_HTTP_PORT", "9999")
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", "uat.")
    assert classes["reporting"]().flush_interval_ms == 123
    audits = classes["audits"]()
    assert audits.http_port == 9999 and audits.kafka.topic_prefix == "uat."


def test_the_page_lists_every_platform_metric() -> None:
    page = PAGE.read_text()
    ours = {name for name in REGISTRY._names_to_collectors if name.startswith("qaf_")}  # noqa: SLF001
    families = {re.sub(r"_(total|created)$", "", n) for n in ours}
    assert families
    for family in families:
        assert family in page, f"{family} is exposed on /metrics but not described in docs/operating.md"


def test_the_generator_runs_as_documented() -> None:
    result = subprocess.run([sys.executable, "-m", "qaf_devstack.settings_doc", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
