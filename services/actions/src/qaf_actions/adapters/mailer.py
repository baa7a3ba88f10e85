"""Sends the Board digest by SMTP (aiosmtplib): HTML body, plain-text alternative, PDF attached."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from qaf_actions.settings import ActionsSettings


def digest_message(settings: ActionsSettings, *, period: str, board_date: str, html: str, text: str, pdf: bytes,
                   digest_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"QA Board alert digest {period} (Board of {board_date})"
    msg["From"] = settings.smtp_sender
    msg["To"] = ", ".join(settings.board_recipients)
    msg["X-QAF-Digest-Id"] = digest_id
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"qa-board-digest-{period}.pdf")
    return msg


async def send(settings: ActionsSettings, message: EmailMessage) -> None:
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        start_tls=settings.smtp_starttls,
        use_tls=settings.smtp_use_tls,
        timeout=settings.smtp_timeout_s,
        recipients=settings.board_recipients,
    )
