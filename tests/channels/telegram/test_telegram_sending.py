"""Replies to residents through sendMessage on the Bot API double."""

from __future__ import annotations

import time

import pytest

from channels.base import (
    AttachmentData,
    Channel,
    PermanentDeliveryError,
    Reply,
    ReplyButton,
    TemporaryDeliveryError,
)
from channels.telegram import TelegramSender, split_text
from tests.servers.telegram_double import TelegramDouble


def reply(text: str = "Halo Bu Siti, NIB diurus lewat oss.go.id.", **extra: object) -> Reply:
    fields: dict[str, object] = {
        "channel": Channel.TELEGRAM,
        "recipient": "281234567",
        "text": text,
        "idempotency_key": "outbox-17",
        "ticket_number": "PTSP-000123",
        "conversation_id": "281234567",
    }
    fields.update(extra)
    return Reply(**fields)  # type: ignore[arg-type]


async def test_plain_text_reply(double: TelegramDouble, sender: TelegramSender) -> None:
    receipt = await sender.send(reply())
    [call] = double.calls_of("sendMessage")
    assert call.params["chat_id"] == "281234567"
    assert call.params["text"] == "Halo Bu Siti, NIB diurus lewat oss.go.id."
    # Plain text: nothing a consultant types can be misread as markup.
    assert "parse_mode" not in call.params
    assert receipt.external_ref == "281234567:1"


async def test_recipient_is_used_without_a_conversation(
    double: TelegramDouble, sender: TelegramSender
) -> None:
    await sender.send(reply(conversation_id=None, recipient="99887766"))
    assert double.calls_of("sendMessage")[0].params["chat_id"] == "99887766"


async def test_long_reply_is_split_at_paragraphs(
    double: TelegramDouble, sender: TelegramSender
) -> None:
    paragraph = "Persyaratan PBG: " + "dokumen teknis bangunan gedung " * 60
    text = "\n\n".join(f"{n}. {paragraph.strip()}" for n in range(1, 5))
    assert len(text) > 4096
    receipt = await sender.send(reply(text))
    sent = [c.params["text"] for c in double.calls_of("sendMessage")]
    assert len(sent) == 2
    assert all(len(part) <= 4096 for part in sent)
    assert sent[0].endswith("gedung") and sent[1].startswith("3. ")
    assert " ".join(sent).split() == text.split()
    assert receipt.external_ref == "281234567:1,281234567:2"


def test_split_falls_back_to_lines_words_and_hard_cuts() -> None:
    lines = "\n".join(["baris " + "a" * 90] * 100)
    assert all(len(p) <= 4096 and not p.startswith("\n") for p in split_text(lines))
    words = "kata " * 2000
    parts = split_text(words)
    assert all(len(p) <= 4096 for p in parts) and " ".join(parts).split() == words.split()
    blob = "x" * 9000
    assert [len(p) for p in split_text(blob)] == [4096, 4096, 808]
    # Emoji count twice toward Telegram's limit (UTF-16 code units).
    emoji = "😀" * 3000
    assert [len(p) for p in split_text(emoji)] == [2048, 952]
    assert split_text("  pendek  ") == ["pendek"]


async def test_feedback_and_survey_buttons(double: TelegramDouble, sender: TelegramSender) -> None:
    buttons = (
        ReplyButton("👍 Ya", "fb:PTSP-000123:yes"),
        ReplyButton("👎 Tidak", "fb:PTSP-000123:no"),
    )
    await sender.send(reply("Apakah jawaban ini membantu?", buttons=buttons))
    survey = tuple(ReplyButton(str(n), f"csat:PTSP-000123:{n}") for n in range(1, 6))
    await sender.send(reply("Seberapa puas Anda?", buttons=survey, idempotency_key="o-18"))
    links = (ReplyButton("Cek status permohonan di situs PTSP", "", url="https://example.go.id/s"),)
    await sender.send(reply("Status:", buttons=links, idempotency_key="o-19"))
    feedback, csat, link = (c.json("reply_markup") for c in double.calls_of("sendMessage"))
    assert feedback == {
        "inline_keyboard": [
            [
                {"text": "👍 Ya", "callback_data": "fb:PTSP-000123:yes"},
                {"text": "👎 Tidak", "callback_data": "fb:PTSP-000123:no"},
            ]
        ]
    }
    assert [b["callback_data"] for b in csat["inline_keyboard"][0]] == [
        f"csat:PTSP-000123:{n}" for n in range(1, 6)
    ]
    assert link["inline_keyboard"][0][0]["url"] == "https://example.go.id/s"


async def test_callback_data_over_64_bytes_is_refused(
    double: TelegramDouble, sender: TelegramSender
) -> None:
    with pytest.raises(PermanentDeliveryError, match="1-64 bytes"):
        await sender.send(reply(buttons=(ReplyButton("Ya", "x" * 65),)))
    assert double.calls_of("sendMessage") == []


async def test_buttons_go_on_the_last_part(double: TelegramDouble, sender: TelegramSender) -> None:
    text = ("kalimat panjang " * 300 + "\n\n") * 2
    await sender.send(reply(text, buttons=(ReplyButton("Ya", "fb:1:yes"),)))
    calls = double.calls_of("sendMessage")
    assert len(calls) == 3
    assert ["reply_markup" in c.params for c in calls] == [False, False, True]


async def test_attachments_are_uploaded(double: TelegramDouble, sender: TelegramSender) -> None:
    attachments = (
        AttachmentData("alur-nib.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"p" * 100),
        AttachmentData("formulir.pdf", "application/pdf", b"%PDF-1.4 formulir"),
    )
    receipt = await sender.send(reply("Berikut alur dan formulirnya.", attachments=attachments))
    [photo] = double.calls_of("sendPhoto")
    [document] = double.calls_of("sendDocument")
    assert photo.files["photo"].data.startswith(b"\x89PNG")
    assert document.files["document"].filename == "formulir.pdf"
    assert document.files["document"].data == b"%PDF-1.4 formulir"
    assert receipt.external_ref is not None and len(receipt.external_ref.split(",")) == 3


async def test_flood_control_waits_retry_after_then_sends(
    double: TelegramDouble, sender: TelegramSender
) -> None:
    double.fail_next("sendMessage", 1, "flood", retry_after=1)
    started = time.monotonic()
    receipt = await sender.send(reply())
    assert time.monotonic() - started >= 1.0
    assert len(double.calls_of("sendMessage")) == 2
    assert receipt.external_ref == "281234567:1"


async def test_flood_control_beyond_the_cap_is_temporary(double: TelegramDouble) -> None:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    sender = TelegramSender(
        double.token, base_url=double.base_url, max_flood_wait=10, sleep=no_sleep
    )
    try:
        double.fail_next("sendMessage", 5, "flood", retry_after=4)
        with pytest.raises(TemporaryDeliveryError) as caught:
            await sender.send(reply())
    finally:
        await sender.close()
    assert waits == [4.0, 4.0]
    assert caught.value.retry_after == 4.0


async def test_blocked_bot_is_a_permanent_failure(
    double: TelegramDouble, sender: TelegramSender
) -> None:
    double.fail_next("sendMessage", 1, "blocked")
    with pytest.raises(PermanentDeliveryError, match="bot was blocked by the user"):
        await sender.send(reply())


async def test_unknown_chat_is_a_permanent_failure(
    double: TelegramDouble, sender: TelegramSender
) -> None:
    double.fail_next("sendMessage", 1, "chat_not_found")
    with pytest.raises(PermanentDeliveryError, match=r"(?i)chat not found"):
        await sender.send(reply())


async def test_dropped_connection_is_temporary_and_a_retry_delivers(
    double: TelegramDouble, sender: TelegramSender
) -> None:
    double.fail_next("sendMessage", 1, "drop")
    with pytest.raises(TemporaryDeliveryError, match="network error"):
        await sender.send(reply())
    assert (await sender.send(reply())).external_ref == "281234567:1"


async def test_server_error_is_temporary(double: TelegramDouble, sender: TelegramSender) -> None:
    double.fail_next("sendMessage", 1, "server_error")
    with pytest.raises(TemporaryDeliveryError):
        await sender.send(reply())


async def test_unreachable_api_is_temporary(double: TelegramDouble) -> None:
    sender = TelegramSender(double.token, base_url=double.base_url, request_timeout=1.0)
    double.stop()
    try:
        with pytest.raises(TemporaryDeliveryError):
            await sender.send(reply())
    finally:
        await sender.close()


async def test_retry_after_a_half_sent_reply_resends_only_the_rest(
    double: TelegramDouble, sender: TelegramSender
) -> None:
    text = "paragraf pertama " * 200 + "\n\n" + "paragraf kedua " * 200
    await sender.send(reply("pemanasan", idempotency_key="warm-up"))
    double.fail_next("sendMessage", 1, "drop")
    # The first part fails; nothing is delivered yet.
    with pytest.raises(TemporaryDeliveryError):
        await sender.send(reply(text))
    receipt = await sender.send(reply(text))
    texts = [c.params["text"] for c in double.calls_of("sendMessage")[2:]]
    assert [t.split()[0] for t in texts] == ["paragraf", "paragraf"]
    assert receipt.external_ref is not None and receipt.external_ref.count(",") == 1


async def test_reply_without_chat_is_refused(sender: TelegramSender) -> None:
    with pytest.raises(PermanentDeliveryError):
        await sender.send(reply(conversation_id=None, recipient=""))
