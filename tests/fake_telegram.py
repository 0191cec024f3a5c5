"""A fake Telegram Bot API on loopback, answering as the documented API does.

The real `telegram.Bot` talks to it (base_url/base_file_url). Every call is recorded;
`fail_next` scripts error answers (429 with retry_after, 403 blocked, 502); `slow_next`
delays the next answers of a method, and `shown` lists the messages in the order the chat
showed them (answered), which is what a customer reads.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT = {
    "id": 4242,
    "is_bot": True,
    "first_name": "Helpline",
    "username": "helpline_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class FakeTelegram:
    token: str = "4242:TEST-TOKEN"
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    fail_next: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    confirmed_offset: int = 0
    next_message_id: int = 100
    slow_next: dict[str, list[float]] = field(default_factory=dict)  # seconds before answering
    shown: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post(f"/bot{self.token}/{{method}}", self.method)
        app.router.add_get(f"/file/bot{self.token}/{{path:.*}}", self.file)
        return app

    def sent(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    async def method(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        if request.content_type == "application/json":
            params: dict[str, Any] = await request.json()
        else:
            form = await request.post()
            params = {k: (v if isinstance(v, str) else v.file.read()) for k, v in form.items()}
        self.calls.append((name, params))
        if self.fail_next.get(name):
            status, body = self.fail_next[name].pop(0)
            return web.json_response({"ok": False, "error_code": status, **body}, status=status)
        handler = getattr(self, f"m_{name}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        if self.slow_next.get(name):
            await asyncio.sleep(self.slow_next[name].pop(0))
        result = await handler(params)
        if isinstance(result, dict) and "message_id" in result and all(m is not result for m in self.shown):
            self.shown.append(result)  # a new message (an edit returns one already shown)
        return web.json_response({"ok": True, "result": result})

    async def m_getMe(self, params: dict[str, Any]) -> Any:
        return BOT

    async def m_setWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        if offset:
            self.confirmed_offset = offset
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        return self.updates[:100]

    async def m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        """As Telegram answers it: the edited message, or 400 for a message it does not know or
        one whose buttons are already what was asked."""
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        shown = next((m for m in self.shown if m["chat"]["id"] == chat_id and m["message_id"] == message_id), None)
        if shown is None:
            raise web.HTTPBadRequest(
                text=json.dumps(
                    {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"}
                ),
                content_type="application/json",
            )
        markup = params.get("reply_markup")
        markup = json.loads(markup) if isinstance(markup, str) else markup
        if (markup or None) == shown.get("reply_markup"):
            raise web.HTTPBadRequest(
                text=json.dumps(
                    {"ok": False, "error_code": 400, "description": "Bad Request: message is not modified"}
                ),
                content_type="application/json",
            )
        if markup:
            shown["reply_markup"] = markup
        else:
            shown.pop("reply_markup", None)
        return shown

    async def m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = params["file_id"]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(self.files[file_id]),
            "file_path": f"files/{file_id}",
        }

    def _sent_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        self.next_message_id += 1
        chat_id = int(params["chat_id"])
        return {
            "message_id": self.next_message_id,
            "date": int(time.time()),
            "from": BOT,
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            **content,
        }

    async def m_sendMessage(self, params: dict[str, Any]) -> Any:
        markup = params.get("reply_markup")
        content: dict[str, Any] = {"text": params["text"]}
        if markup:
            content["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
        return self._sent_message(params, **content)

    async def m_sendPhoto(self, params: dict[str, Any]) -> Any:
        return self._sent_message(
            params, photo=[{"file_id": "sent-photo", "file_unique_id": "sp", "width": 1, "height": 1}]
        )

    async def m_sendDocument(self, params: dict[str, Any]) -> Any:
        return self._sent_message(params, document={"file_id": "sent-doc", "file_unique_id": "sd"})

    async def file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].removeprefix("files/")
        return web.Response(body=self.files[file_id])


def text_update(
    update_id: int,
    text: str,
    *,
    chat_id: int = 777,
    user_id: int = 777,
    message_id: int = 1,
    first_name: str = "Li",
    username: str = "lina",
    chat_type: str = "private",
    **extra: Any,
) -> dict[str, Any]:
    chat = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = first_name
    else:
        chat["title"] = "Partners"
    message = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": chat,
        "from": {"id": user_id, "is_bot": False, "first_name": first_name, "username": username},
        **extra,
    }
    if text:
        message["text"] = text
    return {"update_id": update_id, "message": message}
