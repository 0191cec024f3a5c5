"""Polling a support mailbox over IMAP (aioimaplib).

Crash-safe by construction: a mail is marked (or moved) and the last UID recorded only
after the hub stored it, and storing is idempotent on the Message-ID, so a crash at any
point neither drops nor duplicates mail. A changed UIDVALIDITY (the mailbox was
rebuilt) restarts from the first UID; idempotency again prevents duplicates. Only the
hub holding the mailbox's lease polls, when several share one database. IDLE is used
when the server offers it, so new mail arrives at once; otherwise the mailbox is polled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import aioimaplib

from adapters.email.parse import message_id_of
from hub.sdk import StoreUnavailable, logged_failure

if TYPE_CHECKING:
    from adapters.email.adapter import EmailAdapter
    from hub.sdk import HubPort

log = logging.getLogger(__name__)


class LoginRefused(OSError):
    """The IMAP server refused imap_user's login."""


class ImapPoller:
    def __init__(self, adapter: EmailAdapter, hub: HubPort) -> None:
        self.adapter = adapter
        self.hub = hub
        self.settings = adapter.settings
        self.lease = f"imap:{adapter.name}:{self.settings.imap_user}:{self.settings.imap_mailbox}"
        self.state_key = self.lease
        self._task: asyncio.Task[None] | None = None
        self.polls = 0  # rounds completed (tests wait on it)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"helpline-{self.adapter.name}-imap")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(StoreUnavailable):  # another hub may take over at once
            await self.hub.release_lease(self.lease)

    async def _run(self) -> None:
        interval = self.settings.imap_poll_seconds
        while True:
            polls = self.polls
            try:
                if await self.hub.acquire_lease(self.lease, timedelta(seconds=max(60.0, interval * 4))):
                    await self._session(interval)
            except asyncio.CancelledError:
                raise
            except StoreUnavailable as exc:  # the hub's trouble, not the mailbox's
                log.warning("IMAP %s: %s; retrying", self.settings.imap_host, exc)
            except (OSError, TimeoutError, aioimaplib.Abort) as exc:
                log.warning("IMAP %s: %s; retrying", self.settings.imap_host, exc)
                # A session that polled and then broke (a server restart) is retried first;
                # one that never got to poll means the mailbox cannot be read: say so.
                if self.polls == polls:
                    self.hub.report_channel(self.adapter.name, up=False, reason=self._reason(exc))
            except Exception:
                log.exception("IMAP %s: unexpected failure; retrying", self.settings.imap_host)
            await asyncio.sleep(interval)

    def _reason(self, exc: BaseException) -> str:
        """Why the mailbox cannot be read, for /healthz and the admin screen: never the password."""
        where = f"IMAP {self.settings.imap_host}:{self.settings.imap_port}"
        if isinstance(exc, LoginRefused):
            text = f"{where}: {exc}; check imap_user and imap_password"
        elif isinstance(exc, TimeoutError):
            text = f"{where}: no answer (timeout)"
        else:
            text = f"{where}: cannot read the mailbox ({exc.__class__.__name__}: {exc})"
        password = self.settings.imap_password
        return text.replace(password, "[secret]") if password else text

    async def _session(self, interval: float) -> None:
        """One connection: poll (or IDLE) until it breaks or the lease is lost."""
        if self.settings.imap_tls:
            context = ssl.create_default_context(cafile=self.settings.imap_ca_file or None)
            client: Any = aioimaplib.IMAP4_SSL(
                host=self.settings.imap_host, port=self.settings.imap_port, timeout=30, ssl_context=context
            )
        else:
            client = aioimaplib.IMAP4(host=self.settings.imap_host, port=self.settings.imap_port, timeout=30)
        await client.wait_hello_from_server()
        try:
            response = await client.login(self.settings.imap_user, self.settings.imap_password)
            if response.result != "OK":
                raise LoginRefused(f"login refused for {self.settings.imap_user}: {_text(response.lines)}")
            while await self.hub.acquire_lease(self.lease, timedelta(seconds=max(60.0, interval * 4))):
                await self.poll_once(client)
                self.polls += 1
                self.hub.report_channel(self.adapter.name, up=True)  # logged only when it changes
                if client.has_capability("IDLE"):
                    # New mail wakes us at once; otherwise IDLE ends after the poll interval
                    # (aioimaplib stops the wait then), so the lease is renewed regularly.
                    idle = await client.idle_start(timeout=interval)
                    with contextlib.suppress(TimeoutError):
                        await client.wait_server_push(timeout=interval + 5)
                    if client.has_pending_idle():
                        client.idle_done()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(idle, timeout=30)
                else:
                    await asyncio.sleep(interval)
        finally:
            with logged_failure(log, f"logging out of IMAP {self.settings.imap_host}"):
                if client.has_pending_idle():
                    client.idle_done()
                await asyncio.wait_for(client.logout(), timeout=2)

    async def poll_once(self, client: Any) -> None:
        response = await client.select(self.settings.imap_mailbox)
        if response.result != "OK":
            raise OSError(f"cannot select {self.settings.imap_mailbox}: {_text(response.lines)}")
        validity = _uidvalidity(response.lines)
        state = await self.hub.get_state(self.state_key) or {}
        last_uid = int(state.get("last_uid", 0)) if state.get("uidvalidity") == validity else 0
        if state and state.get("uidvalidity") != validity:
            log.warning(
                "IMAP mailbox %s was rebuilt (UIDVALIDITY %s -> %s); reading it again",
                self.settings.imap_mailbox,
                state.get("uidvalidity"),
                validity,
            )
        retry = [int(u) for u in state.get("retry", [])] if state.get("uidvalidity") == validity else []
        found = await client.uid_search(f"UID {last_uid + 1}:*")
        new = [int(u) for u in _text(found.lines[:1]).split() if u.isdigit() and int(u) > last_uid]
        uids = sorted(set(retry) | set(new))
        still_failing: list[int] = []
        for uid in uids:
            # Each mail on its own: one that fails is retried later (the adapter stores a
            # mail that fails the same way twice raw, as a placeholder ticket), and the
            # mail after it is read now.
            fetched = await client.uid("fetch", str(uid), "(BODY.PEEK[])")
            # aioimaplib hands the message literal over as the one bytearray among the lines.
            raw = next((line for line in fetched.lines if isinstance(line, bytearray)), None)
            if raw is None:
                continue
            reply = await self.adapter.receive(bytes(raw))
            if reply.startswith("4"):
                still_failing.append(uid)
            else:
                if reply.startswith("5"):  # refused for good: left in the mailbox, never silently
                    log.warning("IMAP %s UID %d (%s) refused: %s", self.settings.imap_mailbox, uid,
                                message_id_of(bytes(raw)), reply)  # fmt: skip
                if self.settings.imap_move_to:
                    await client.uid("move", str(uid), self.settings.imap_move_to)
                else:
                    await client.uid("store", str(uid), "+FLAGS", "(\\Seen)")
            last_uid = max(last_uid, uid)
            await self.hub.set_state(
                self.state_key,
                {
                    "uidvalidity": validity,
                    "last_uid": last_uid,
                    "retry": [*still_failing, *[u for u in retry if u > uid]],
                },
            )
        if not uids and state.get("uidvalidity") != validity:
            await self.hub.set_state(self.state_key, {"uidvalidity": validity, "last_uid": last_uid})


def _text(lines: list[Any]) -> str:
    return " ".join(
        line.decode(errors="replace") if isinstance(line, bytes | bytearray) else str(line) for line in lines
    )


def _uidvalidity(lines: list[Any]) -> int:
    found = re.search(r"UIDVALIDITY (\d+)", _text(lines))
    return int(found.group(1)) if found else 0
