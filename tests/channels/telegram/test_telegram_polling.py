"""Long polling against the Bot API double: what reaches the store, and when the offset moves."""

from __future__ import annotations

import asyncio
import contextlib
import json

from channels.telegram import Outcome, TelegramPoller, TelegramWebhook
from tests.channels.telegram.telegram_fakes import (
    MemoryCursor,
    MemoryStore,
    load_update,
    make_poller,
)
from tests.servers.telegram_double import TelegramDouble

PDF = b"%PDF-1.4\n% KTP scan\n" + b"x" * 2000


async def test_text_message_is_stored_and_the_offset_saved(
    double: TelegramDouble, store: MemoryStore, cursor: MemoryCursor, poller: TelegramPoller
) -> None:
    update_id = double.push_update(load_update("text_private"))
    assert await poller.poll_once() == 1
    assert [i.text for i in store.inquiries] == ["gmn cara urus nib? sy mau buka warung makan"]
    assert cursor.values["telegram.updates"] == {"offset": update_id + 1}
    # Polling asked for resident messages only, and from the saved offset.
    call = double.calls_of("getUpdates")[-1]
    assert call.json("allowed_updates") == ["message", "edited_message", "callback_query"]
    await poller.poll_once()
    assert double.calls_of("getUpdates")[-1].params["offset"] == str(update_id + 1)
    assert len(store.inquiries) == 1


async def test_photo_and_document_are_downloaded(
    double: TelegramDouble, store: MemoryStore, poller: TelegramPoller
) -> None:
    double.add_file(
        "AgACAgUAAxkBAAIBNWdLarge", b"\xff\xd8\xff" + b"j" * 48208, file_path="photos/file_12.jpg"
    )
    double.add_file("BQACAgUAAxkBAAIBNmdDoc", PDF, file_path="documents/file_13.pdf")
    double.push_update(load_update("photo_caption"))
    double.push_update(load_update("document_pdf"))
    assert await poller.poll_once() == 2
    photo, document = store.inquiries
    assert photo.text == "ini bukti setor retribusi pbg nya"
    assert [(a.filename, a.content_type, len(a.data)) for a in photo.attachments] == [
        ("foto-212.jpg", "image/jpeg", 48211)
    ]
    assert document.attachments[0].data == PDF
    assert document.attachments[0].filename == "KTP_Siti.pdf"
    assert [c.params["file_id"] for c in double.calls_of("getFile")] == [
        "AgACAgUAAxkBAAIBNWdLarge",
        "BQACAgUAAxkBAAIBNmdDoc",
    ]


async def test_oversized_attachment_is_dropped_with_a_notice(
    double: TelegramDouble, store: MemoryStore, cursor: MemoryCursor
) -> None:
    poller = make_poller(double, store, cursor, max_attachment_bytes=30_000)
    try:
        # Announced as 18 MB in the message: never even asked for.
        double.push_update(load_update("document_oversized"))
        # Announced small, but getFile and the download say otherwise.
        double.add_file("BQACAgUAAxkBAAIBNmdDoc", b"y" * 50_000, reported_size=4_000)
        double.push_update(load_update("document_pdf") | {"update_id": 734001030})
        assert await poller.poll_once() == 2
    finally:
        await poller.close()
    big, lying = store.inquiries
    assert big.text == "scan sertifikat tanah"
    assert big.attachments == ()
    assert len(big.notices) == 1 and "sertifikat.pdf" in big.notices[0]
    assert "melebihi batas" in big.notices[0]
    assert lying.attachments == ()
    assert "KTP_Siti.pdf" in lying.notices[0]
    assert [c.params["file_id"] for c in double.calls_of("getFile")] == ["BQACAgUAAxkBAAIBNmdDoc"]


async def test_file_telegram_will_not_serve_is_noted_not_retried(
    double: TelegramDouble, store: MemoryStore, poller: TelegramPoller
) -> None:
    double.add_file("BQACAgUAAxkBAAIBNmdDoc", PDF, reported_size=None)
    double.push_update(load_update("document_pdf"))
    assert await poller.poll_once() == 1
    assert store.inquiries[0].attachments == ()
    assert "file is too big" in store.inquiries[0].notices[0].lower()


async def test_edited_message_is_stored_beside_the_original(
    double: TelegramDouble, store: MemoryStore, poller: TelegramPoller
) -> None:
    double.push_update(load_update("text_private"))
    double.push_update(load_update("edited_message"))
    await poller.poll_once()
    original, edited = store.inquiries
    assert edited.meta["edited"] is True
    assert edited.external_id != original.external_id


async def test_start_and_shared_contact(
    double: TelegramDouble, store: MemoryStore, poller: TelegramPoller
) -> None:
    double.push_update(load_update("start_command"))
    double.push_update(load_update("contact_own"))
    await poller.poll_once()
    start, contact = store.inquiries
    assert start.meta["command"] == "start" and start.meta["greeting"]
    assert [i.value for i in contact.extra_identities] == ["6281234567890"]
    # The adapter itself never answers: greetings go through the core's outbox.
    assert double.calls_of("sendMessage") == []


async def test_group_messages_need_configuration(
    double: TelegramDouble, store: MemoryStore, cursor: MemoryCursor
) -> None:
    plain = make_poller(double, store, cursor)
    try:
        double.push_update(load_update("group_text"))
        await plain.poll_once()
    finally:
        await plain.close()
    assert store.inquiries == []
    assert plain.counts[Outcome.IGNORED] == 1
    configured = make_poller(
        double, store, cursor, allowed_group_ids=[-1001987654321], cursor_key="other"
    )
    try:
        double.push_update(load_update("group_text") | {"update_id": 734001099})
        await configured.poll_once()
    finally:
        await configured.close()
    assert [i.thread.conversation_id for i in store.inquiries] == ["-1001987654321"]


async def test_button_press_is_stored_then_answered(
    double: TelegramDouble, store: MemoryStore, poller: TelegramPoller
) -> None:
    double.push_update(load_update("callback_feedback"))
    await poller.poll_once()
    assert store.inquiries[0].meta == {
        "callback": "fb:PTSP-000123:yes",
        "update_id": 734001010,
        "chat_id": 281234567,
    }
    [answer] = double.calls_of("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "1205913480923749012"
    assert "Terima kasih" in answer.params["text"]
    [edit] = double.calls_of("editMessageReplyMarkup")
    assert (edit.params["chat_id"], edit.params["message_id"]) == ("281234567", "218")


async def test_a_failing_store_means_the_update_comes_again(
    double: TelegramDouble, store: MemoryStore, cursor: MemoryCursor
) -> None:
    first = double.push_update(load_update("text_private"))
    double.push_update(load_update("start_command"))
    store.fail_next = 1
    poller = make_poller(double, store, cursor)
    task = asyncio.create_task(poller.run())
    try:
        for _ in range(200):
            if len(store.inquiries) == 2:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [i.external_id for i in store.inquiries] == ["281234567:211", "281234567:1"]
    offsets = [c.params["offset"] for c in double.calls_of("getUpdates")]
    # The first fetch failed to store, so the next fetch asked for the same update.
    assert offsets[:2] == ["0", "0"]
    assert cursor.values["telegram.updates"] == {"offset": first + 2}
    bad = [h for h in store.health if not h.ok]
    assert bad and "database is locked" in (bad[0].detail or "")
    assert store.health[-1].ok


async def test_restart_with_the_same_cursor_stores_nothing_twice(
    double: TelegramDouble, store: MemoryStore, cursor: MemoryCursor
) -> None:
    for name in ("text_private", "start_command", "contact_own"):
        double.push_update(load_update(name))
    first = make_poller(double, store, cursor)
    try:
        await first.poll_once()
    finally:
        await first.close()
    second = make_poller(double, store, cursor)
    try:
        assert await second.poll_once() == 0
    finally:
        await second.close()
    assert len(store.inquiries) == 3


async def test_crash_between_commit_and_cursor_save_is_deduplicated(
    double: TelegramDouble, store: MemoryStore, cursor: MemoryCursor, poller: TelegramPoller
) -> None:
    double.push_update(load_update("text_private"))
    cursor.fail_saves = 1
    with contextlib.suppress(OSError):
        await poller.poll_once()
    assert "telegram.updates" not in cursor.values
    await poller.poll_once()
    assert len(store.inquiries) == 1
    assert poller.counts[Outcome.DUPLICATE] == 1
    assert cursor.values["telegram.updates"]["offset"] == 734001002


async def test_junk_is_quarantined_and_the_offset_moves_on(
    double: TelegramDouble, store: MemoryStore, cursor: MemoryCursor, poller: TelegramPoller
) -> None:
    double.push_update(load_update("junk_unknown_type"))
    double.push_update(load_update("junk_malformed_message"))
    double.push_raw(734001020, "not an update at all")
    double.push_update(load_update("text_private") | {"update_id": 734001021})
    await poller.poll_once()
    assert [i.external_id for i in store.inquiries] == ["281234567:211"]
    reasons = [q[2] for q in store.quarantined]
    assert "unsupported update type: message_reaction" in reasons[0]
    assert "malformed update" in reasons[1]
    assert "not an object" in reasons[2]
    assert [q[3] for q in store.quarantined] == ["update:734001012", "update:734001013", None]
    assert json.loads(store.quarantined[0][1])["update_id"] == 734001012
    assert cursor.values["telegram.updates"] == {"offset": 734001022}


async def test_network_trouble_is_reported_and_polling_goes_on(
    double: TelegramDouble, store: MemoryStore, cursor: MemoryCursor
) -> None:
    double.fail_next("getUpdates", 2, "drop")
    double.push_update(load_update("text_private"))
    poller = make_poller(double, store, cursor)
    task = asyncio.create_task(poller.run())
    try:
        for _ in range(300):
            if store.inquiries:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(store.inquiries) == 1
    failures = [h for h in store.health if not h.ok]
    # Health changes are reported at once; repeats of the same state are throttled.
    assert len(failures) == 1
    assert "network error" in (failures[0].detail or "")
    assert store.health[-1].ok
    assert store.health[-1].counts["errors"] == 2
    # Polling started by removing any webhook, without dropping pending updates.
    [delete] = double.calls_of("deleteWebhook")
    assert delete.params.get("drop_pending_updates") in ("False", "false")


async def test_webhook_checks_the_secret_and_stores(
    double: TelegramDouble, store: MemoryStore
) -> None:
    hook = TelegramWebhook(
        double.token,
        "rahasia_PTSP-2026",
        sink=store.sink,
        quarantine=store.quarantine,
        base_url=double.base_url,
        base_file_url=double.base_file_url,
    )
    try:
        await hook.register("https://tanya.example.go.id/channels/telegram/webhook")
        assert double.webhook_url == "https://tanya.example.go.id/channels/telegram/webhook"
        assert double.webhook_secret == "rahasia_PTSP-2026"
        body = json.dumps(load_update("text_private")).encode()
        assert await hook.handle(body, "wrong") == 401
        assert store.inquiries == []
        assert await hook.handle(body, "rahasia_PTSP-2026") == 200
        assert await hook.handle(b"{junk", "rahasia_PTSP-2026") == 200
        store.fail_next = 1
        body2 = json.dumps(load_update("start_command")).encode()
        assert await hook.handle(body2, "rahasia_PTSP-2026") == 503
        assert await hook.handle(body2, "rahasia_PTSP-2026") == 200
    finally:
        await hook.close()
    assert [i.external_id for i in store.inquiries] == ["281234567:211", "281234567:1"]
    assert len(store.quarantined) == 1
