"""Sends the Board digest by SMTP (aiosmtplib): HTML body, plain-text alternative, PDF attached."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from qaf_actions.settings import ActionsSettings


class SmtpMailer:
    def __init__(self, settings: ActionsSettings) -> None:
        self._settings = settings

    @property
    def recipients(self) -> list[str]:
        return list(self._settings.board_recipients)

    async def send_digest(self, *, digest_id: str, period: str, board_date: date, as_of: date, html: str, pdf: bytes,
                          summary: dict[str, Any]) -> None:
        text = "\n".join(
            [f"QA Board alert digest {period} (Board of {board_date}), figures as of {as_of}.", ""]
            + [f"- {area}: {status}" for area, status in summary.get("areas", {}).items()]
            + ["", f"Flags raised: {summary['flags_raised']}; cleared: {summary['flags_cleared']}.",
               "The full digest is attached as a PDF."]
        )
        await self._send(self._message(period=period, board_date=board_date.isoformat(), html=html, text=text, pdf=pdf,
                                       digest_id=digest_id))

    def _message(self, *, period: str, board_date: str, html: str, text: str, pdf: bytes, digest_id: str) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"QA Board alert digest {period} (Board of {board_date})"
        msg["From"] = self._settings.smtp_sender
        msg["To"] = ", ".join(self._settings.board_recipients)
        msg["X-QAF-Digest-Id"] = digest_id
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"qa-board-digest-{period}.pdf")
        return msg

    async def _send(self, message: EmailMessage) -> None:
        s = self._settings
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            start_tls=s.smtp_starttls,
            use_tls=s.smtp_use_tls,
            timeout=s.smtp_timeout_s,
            recipients=s.board_recipients,
        )
