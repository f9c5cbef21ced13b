"""The SMTP sender against a real (aiosmtpd) server, including its failures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from channels.base import (
    Channel,
    OutboundAdapter,
    PermanentDeliveryError,
    Reply,
    TemporaryDeliveryError,
)
from channels.email.smtp import SmtpSender
from tests.servers.ports import free_port
from tests.servers.smtp import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(auth=("konsultasi", "rahasia")).start()
    try:
        yield server
    finally:
        server.stop()


def sender(server: SmtpServer, **changes: Any) -> SmtpSender:
    options: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "username": "konsultasi",
        "password": "rahasia",
        "from_address": "konsultasi@ptsp.jakarta.go.id",
        "from_name": "Konsultasi PTSP",
        "timeout": 5.0,
        **changes,
    }
    return SmtpSender(**options)


def reply(recipient: str = "budi.santoso@gmail.com", **changes: Any) -> Reply:
    values: dict[str, Any] = {
        "channel": Channel.EMAIL,
        "recipient": recipient,
        "text": "Yth. Bapak Budi,\n\nSyarat NIB: KTP dan NPWP.\n",
        "idempotency_key": "outbox-1",
        "ticket_number": "PTSP-000456",
        "subject": "Izin usaha mikro",
        "message_id": "tanya.1955.out1@ptsp.jakarta.go.id",
        "in_reply_to": "CAPx7Z9w=reply-budi-0305@mail.gmail.com",
        "references": ("first@mail.gmail.com",),
        **changes,
    }
    return Reply(**values)


def test_it_is_an_outbound_adapter(smtp: SmtpServer) -> None:
    adapter = sender(smtp)
    assert isinstance(adapter, OutboundAdapter)
    assert adapter.channel is Channel.EMAIL


async def test_reply_arrives_with_threading_headers(smtp: SmtpServer) -> None:
    receipt = await sender(smtp).send(reply(automatic=True))
    assert receipt.external_ref == "tanya.1955.out1@ptsp.jakarta.go.id"
    [received] = await smtp.wait_for_async(1)
    assert received.rcpt_tos == ("budi.santoso@gmail.com",)
    assert received.mail_from == "konsultasi@ptsp.jakarta.go.id"
    assert received.login == "konsultasi"
    assert received["Message-ID"] == "<tanya.1955.out1@ptsp.jakarta.go.id>"
    assert received["In-Reply-To"] == "<CAPx7Z9w=reply-budi-0305@mail.gmail.com>"
    assert received["References"] == (
        "<first@mail.gmail.com> <CAPx7Z9w=reply-budi-0305@mail.gmail.com>"
    )
    assert received["Subject"] == "Re: [PTSP-000456] Izin usaha mikro"
    assert received["Auto-Submitted"] == "auto-replied"
    assert received["From"] == "Konsultasi PTSP <konsultasi@ptsp.jakarta.go.id>"


async def test_451_is_temporary(smtp: SmtpServer) -> None:
    smtp.fail_next(1, 451, "4.3.0 Temporary failure, try again later")
    with pytest.raises(TemporaryDeliveryError, match=re.escape("451 4.3.0 Temporary failure")):
        await sender(smtp).send(reply())
    await sender(smtp).send(reply())  # the retry goes through
    assert len(await smtp.wait_for_async(1)) == 1


async def test_550_recipient_is_permanent_with_the_servers_reason(smtp: SmtpServer) -> None:
    smtp.reject_recipient("hilang@warga.test", code=550, message="5.1.1 Mailbox unavailable")
    with pytest.raises(PermanentDeliveryError, match=re.escape("550 5.1.1 Mailbox unavailable")):
        await sender(smtp).send(reply("hilang@warga.test"))


async def test_554_at_data_is_permanent(smtp: SmtpServer) -> None:
    smtp.fail_next(1, 554, "5.7.1 Message rejected as spam")
    with pytest.raises(
        PermanentDeliveryError, match=re.escape("554 5.7.1 Message rejected as spam")
    ):
        await sender(smtp).send(reply())


async def test_temporary_failure_at_mail_from(smtp: SmtpServer) -> None:
    smtp.fail_next(1, 421, "4.7.0 Try again later", stage="MAIL")
    with pytest.raises(TemporaryDeliveryError, match="421"):
        await sender(smtp).send(reply())


async def test_server_down_is_temporary(smtp: SmtpServer) -> None:
    smtp.stop()
    with pytest.raises(TemporaryDeliveryError, match="cannot reach"):
        await sender(smtp).send(reply())
    smtp.start()
    await sender(smtp).send(reply())
    assert len(await smtp.wait_for_async(1)) == 1


async def test_nothing_listening_is_temporary() -> None:
    lonely = SmtpSender(
        host="127.0.0.1", port=free_port(), security="none", from_address="k@ptsp.test"
    )
    with pytest.raises(TemporaryDeliveryError):
        await lonely.send(reply())


async def test_slow_server_times_out_as_temporary(smtp: SmtpServer) -> None:
    smtp.set_delay(2.0)
    with pytest.raises(TemporaryDeliveryError, match="timed out"):
        await sender(smtp, timeout=0.5).send(reply())


async def test_wrong_password_is_temporary_and_says_so(smtp: SmtpServer) -> None:
    with pytest.raises(TemporaryDeliveryError, match="login refused"):
        await sender(smtp, password="salah").send(reply())


async def test_unusable_recipient_is_permanent(smtp: SmtpServer) -> None:
    with pytest.raises(PermanentDeliveryError, match="not an email address"):
        await sender(smtp).send(reply("bukan-alamat"))


def test_bad_settings_fail_fast() -> None:
    with pytest.raises(ValueError, match="security"):
        SmtpSender(host="h", port=25, from_address="a@b.c", security="ssl")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="username and password"):
        SmtpSender(host="h", port=25, from_address="a@b.c", username="u")
