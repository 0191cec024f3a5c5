"""ingest(inbound): validate, store, acknowledge, tell the inboxes, then run the plugins.

The channel's acknowledgement waits only for the store, never for plugins: a plugin
that is slow or raises cannot make a channel retry (and so duplicate) a message. A
message whose plugins did not finish (the hub stopped or crashed) is marked so in
the store and picked up again by `recover`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from prometheus_client import Counter

from conversation.identity import bystander
from conversation.inbound import Inbound, InboundLimits, InvalidInbound, validate_inbound, with_changes
from conversation.model import Contact, Conversation, Message, Priority, Status, utcnow
from conversation.offers import offered_choice, tap_text
from conversation.platform_code import might_hold_code
from conversation.priority_rules import PrioritySource, priority_from_tier
from conversation.routing import OWN_THREAD_STEPS, Route, asks_status, opens_ticket, own_thread, route_inbound
from conversation.store import InboundRecord, Store, StoreUnavailable, Ticketing
from conversation.text_language import message_language
from hub.access import SUPERVISORS_ONLY
from hub.events import Event, EventBus, Hold
from hub.i18n import SOURCE_LOCALE, best_locale, hub_texts, with_language
from hub.metrics import Metrics
from hub.platform.tools import EVENT as PLATFORM_EVENT
from hub.platform.verification import Awaited, CodeVerifications
from hub.plugin_limits import DEFAULT_TIMEOUT_SECONDS, PluginTimedOut, within_limit
from hub.privacy import SecretsGuard, placeholder_language
from hub.sdk import HubPort, IngestUnavailable, Outcome, Plugin, PluginContext, PluginRuntime, said_in_every_language
from hub.services.conversations import ConversationService
from hub.supervise import log_task_failure

log = logging.getLogger(__name__)
# Tickets merged one into the next that a tapped button's offer is looked for along.
MERGE_HOPS = 5

RECOVERY_AGE = timedelta(minutes=2)  # younger messages may still be in another hub's hands
RECOVERY_LEASE = "plugins:recovery"
# A ticket's plugin run in one hub; another hub waits for it. Shorter than RECOVERY_AGE, so a
# crashed hub's leases are gone before recovery runs what it left.
TICKET_LEASE_TTL = timedelta(minutes=1)
TICKET_LEASE_WAIT = 10.0  # seconds a run waits for another hub's run on the same ticket
TICKET_LEASE_POLL = 0.1


_WAITS_HERE = (
    "plugins on message %s wait: this hub is still running plugins on an earlier message of its ticket"
    " (a slow plugin?); they run when that run ends"
)


@dataclass
class Waiting:
    """A message to run plugins on, with its one-time code, the hold on its ticket's live
    events (released once it has run) and recovery's attempt counter."""

    message: Message
    code: str = ""
    hold: Hold | None = None
    attempts: list[int] | None = None

    def release(self) -> None:
        if self.hold is not None:
            self.hold.release()


class TicketBusy(Exception):
    """Another plugin run holds this ticket (in this hub, or another hub process); the message
    waits for recovery."""

    def __init__(self, conversation_id: str, *, here: bool) -> None:
        super().__init__(conversation_id)
        self.here = here  # this hub's own earlier run (a slow plugin), not another process's


# The longest a message's live events wait for its plugins (Plugin.holds_live): a plugin run
# that hangs must not silence its ticket's live feed; the events then go out as the ticket is.
MAX_HOLD = timedelta(seconds=30)
RECOVERY_LEASE_TTL = timedelta(minutes=5)  # renewed before each message of a round
RECOVERY_BATCH = 500
MAX_PLUGIN_ATTEMPTS = 5  # recovery rounds on one message before it is parked


class Pipeline:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        metrics: Metrics,
        actions: ConversationService,
        plugins: list[Plugin],
        *,
        limits: InboundLimits,
        ticketing: Ticketing,
        tier_priorities: Mapping[str, Priority] | None = None,
        instance_id: str,
        concurrency: int = 8,
        backlog: int = 1000,
        plugin_timeout: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Callable[[], datetime] = utcnow,
        language: str = SOURCE_LOCALE,
        runtime: PluginRuntime | None = None,
        port: HubPort | None = None,
        secrets: SecretsGuard | None = None,
        codes: CodeVerifications | None = None,
    ) -> None:
        self.codes = codes  # one-time codes awaited from senders (hub/platform/verification.py)
        self.runtime = runtime  # records and timers for the plugins' contexts
        self.port = port  # what plugins may read and ask of the hub (PluginContext.hub)
        self.store = store
        self.bus = bus
        self.metrics = metrics
        self.actions = actions
        self.plugins = plugins
        self.limits = limits
        self.ticketing = replace(
            ticketing,
            plugins_enabled=bool(plugins),
            status_questions=any(getattr(p, "answers_status_questions", False) for p in plugins),
        )
        self.tier_priorities = dict(tier_priorities or {})
        self.instance_id = instance_id
        self.clock = clock
        self.recovery_rounds = 0  # rounds that held the recovery lease
        self.language = language  # for customers whose language is unknown or has no catalog
        self.secrets = secrets or SecretsGuard(language)
        self.accepting = True
        self.concurrency = concurrency
        self.backlog = backlog
        self.plugin_timeout = plugin_timeout  # one plugin's call on one message (hub/plugin_limits.py)
        # A bounded pool: at most `concurrency` messages run their plugins at once, at most
        # `backlog` wait for a slot; beyond that a message keeps plugins_done = false and
        # recovery runs it later (a burst never turns into thousands of tasks).
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._draining = False
        self._deferral_logged_at = float("-inf")
        # One plugin run per ticket at a time in this process (held only while in use), and the
        # tickets whose run waits for another hub process's (TicketBusy says whose run is slow).
        self._awaiting_lease: set[str] = set()
        self._ticket_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Messages that came while this hub runs plugins on their ticket, with their one-time
        # code and live-event hold: run as soon as that run ends, in order, by the run that
        # holds the ticket (not minutes later by recovery).
        self._waiting_here: dict[str, list[Waiting]] = {}
        # Each channel's count of ingested messages, labelled once: labels() costs more than the count.
        self._ingested: dict[str, Counter] = {}

    async def ingest(self, inbound: Inbound) -> InboundRecord:
        if not self.accepting:
            raise IngestUnavailable("the hub is shutting down; retry")
        try:
            inbound = with_language(validate_inbound(inbound, self.limits))
        except InvalidInbound:
            self.metrics.rejected.labels(getattr(inbound, "channel", "?")).inc()
            raise
        try:
            inbound = await self._offered_choice_only(inbound)
        except StoreUnavailable as exc:
            raise IngestUnavailable("the message store is unavailable; retry") from exc
        # A one-time code the sender was asked for: taken out like a secret, kept for its check in memory only.
        inbound, code = await self._awaited_code(inbound)
        # Before anything keeps it: the store, its search index, the inbox, webhooks, plugins.
        inbound, secrets = await self.secrets.inbound(inbound)
        policy = self.ticketing
        # No plugin acts on a bystander's message (_run_each): none may take it as an answer to
        # its question, nor hold its ticket for the complaint only that plugin would then file.
        holds = False
        if not await self._from_bystander(inbound):
            if await self._answers_bot(inbound):
                policy = replace(policy, answers_bot=True)  # a rating: kept quietly, the ticket's status stays
            holds = self._holds_live(inbound)
        if holds and (team := self._hold_team()):
            policy = replace(policy, hold_team=team, held_teams=await self._held_teams())
        try:
            inbound = await self._after_merge(inbound)
            record = await self.store.tickets.record_inbound(inbound, now=self.clock(), policy=policy)
        except StoreUnavailable as exc:
            log.warning("ingest on %s refused: store unavailable (%s)", inbound.channel, exc)
            raise IngestUnavailable("the message store is unavailable; retry") from exc
        if record.duplicate:
            self.metrics.duplicates.labels(inbound.channel).inc()
            return record
        ingested = self._ingested.get(inbound.channel)
        if ingested is None:
            ingested = self._ingested[inbound.channel] = self.metrics.ingested.labels(inbound.channel)
        ingested.inc()
        conv_id = record.conversation.id
        # Before any event of it goes out: the plugins put this message's ticket where it
        # belongs first (a complaint about an agent), and its events follow (Plugin.holds_live).
        hold = self.bus.hold(conv_id) if holds else None
        try:
            # A ticket opened only to keep a status question is no news to agents, routing or
            # webhooks (no ticket.created): it is stored and answered, and left out of the views.
            if record.route is Route.OPEN_NEW:
                self.bus.publish(Event("conversation.created", conv_id, {"number": record.conversation.number}))
                record.conversation = await self._raise_priority(record.conversation, record.contact)
                await self._say_merged_away(record.conversation, inbound.conversation_hint)
            elif record.route is Route.REOPEN:
                reopened = {
                    "status_after": Status.OPEN.value,
                    "status_changed_at": record.message.created_at.isoformat(),
                }
                self.bus.publish(Event("conversation.updated", conv_id, {"changes": ["status"], **reopened}))
            message = record.message
            self.bus.publish(
                Event("message.created", conv_id, {"message_id": message.id, "kind": "message"}, message.author_type)
            )
            if secrets and not inbound.automatic and not inbound.record_only:
                # The language the message's placeholders were written in (its own script,
                # else what its channel says), so the warning reads like the text it explains.
                language = best_locale(placeholder_language(inbound) or record.contact.language, self.language)
                await self.secrets.warn_once(self.store, self.actions, record.conversation, language)
            if self.plugins:
                self._spawn(record.message, record.conversation, record.contact, hold, code)
                hold = None  # the plugin run releases it
        finally:
            if hold is not None:
                hold.release()
        return record

    async def _awaited_code(self, inbound: Inbound) -> tuple[Inbound, str]:
        """The message without the one-time code its sender was asked for (ctx.platform.send_code),
        and that code; ("", unchanged) when none is awaited (read only for a message with a digit)."""
        if self.codes is None or not self.codes.available or inbound.record_only or not might_hold_code(inbound.text):
            return inbound, ""
        try:
            awaited = await self.codes.awaiting(inbound.channel, inbound.sender.address)
        except StoreUnavailable as exc:
            raise IngestUnavailable("the message store is unavailable; retry") from exc
        if awaited is Awaited.NO:
            return inbound, ""
        return self.secrets.take_code(inbound, alone=awaited is Awaited.ALONE)

    async def _check_code(self, message: Message, conversation: Conversation, code: str) -> str:
        """The typed code checked with the platform; its outcome (never the code) in the timeline."""
        assert self.codes is not None
        outcome = await self.codes.check(message.channel, message.customer_address, code)
        if outcome != "none" and self.port is not None:
            params = {"platform_op": "verify_code", "platform_result": outcome}
            await self.port.post_event(conversation.id, PLATFORM_EVENT, params)
        return outcome

    def _holds_live(self, inbound: Inbound) -> bool:
        if inbound.record_only or not self.plugins:
            return False
        for plugin in self.plugins:
            try:
                if plugin.holds_live(inbound):
                    return True
            except Exception:  # kept back rather than shown to the wrong agent
                log.exception("plugin %s failed deciding whether to hold a message's live events", plugin.name)
                self.metrics.plugin_errors.labels(plugin.name).inc()
                return True
        return False

    def _shared(self, channel: str, thread_key: str) -> bool:
        """Whether others than a ticket's customer read this thread (Adapter.shared_thread)."""
        adapter = self.port.channel_adapter(channel) if self.port is not None else None
        return adapter is not None and adapter.shared_thread(thread_key)

    async def _from_bystander(self, inbound: Inbound) -> bool:
        """Whether someone else than the ticket's customer writes on a thread others read (a
        Telegram group, a Slack channel's thread: identity.bystander) to its live ticket."""
        if not self._shared(inbound.channel, inbound.thread_key):
            return False
        try:
            latest = await self.store.tickets.latest_on_thread(inbound.channel, inbound.thread_key)
        except StoreUnavailable as exc:
            raise IngestUnavailable("the message store is unavailable; retry") from exc
        if latest is None:
            return False
        question = asks_status(inbound, self.ticketing.status_questions)  # as routing will read it
        window = self.ticketing.reopen_window
        if opens_ticket(route_inbound(latest, self.clock(), window, question=question, auto_reply=inbound.auto_reply)):
            return False  # the message opens a ticket of its own: its writer is that one's customer
        return bystander(latest, inbound.sender.address, shared_thread=True)

    def _hold_team(self) -> str:
        """The team a held message's ticket is stored in (Plugin.hold_team); "" for none."""
        return next((team for plugin in self.plugins if (team := plugin.hold_team())), "")

    async def _held_teams(self) -> frozenset[str]:
        """The teams kept to supervisors: a held message's ticket in one of them stays there."""
        try:
            teams = await self.store.desk.list_teams()
        except StoreUnavailable as exc:
            raise IngestUnavailable("the message store is unavailable; retry") from exc
        return frozenset(t.id for t in teams if t.visibility == SUPERVISORS_ONLY)

    async def _answers_bot(self, inbound: Inbound) -> bool:
        """Whether a plugin says this message only answers its question (Plugin.answers_quietly)."""
        if self.port is None:
            return False
        for plugin in self.plugins:
            if type(plugin).answers_quietly is Plugin.answers_quietly:
                continue
            try:
                if await plugin.answers_quietly(inbound, self.port, self.runtime):
                    return True
            except Exception:  # the message is stored as usual; the plugin's error is logged
                log.exception("plugin %s failed deciding whether a message answers it", plugin.name)
                self.metrics.plugin_errors.labels(plugin.name).inc()
        return False

    async def _raise_priority(self, conversation: Conversation, contact: Contact) -> Conversation:
        """A new ticket whose customer's tier asks for more than it was opened with gets that
        priority, with its event. (Keywords set it as the ticket opens: routing.new_conversation.)"""
        by_tier = priority_from_tier(contact.tier, self.tier_priorities, conversation.priority)
        if by_tier is None:
            return conversation
        try:
            return await self.actions.update_conversation(
                conversation, {"priority": by_tier}, priority_by=PrioritySource("rule", "tier", contact.tier)
            )
        except StoreUnavailable as exc:  # the message is stored; an agent sets the priority by hand
            log.warning("ticket %s: tier priority not set, store unavailable (%s)", conversation.number, exc)
            return conversation

    def _spawn(
        self, message: Message, conversation: Conversation, contact: Contact, hold: Hold | None = None, code: str = ""
    ) -> None:
        if hold is not None:  # its events wait for this run: never deferred to recovery, and never for ever
            asyncio.get_running_loop().call_later(MAX_HOLD.total_seconds(), hold.release)
        elif len(self._tasks) >= self.concurrency + self.backlog:
            # Stored and marked plugins_done = false: recovery runs it once the burst is over.
            self.metrics.plugins_deferred.inc()
            now = asyncio.get_running_loop().time()
            if now - self._deferral_logged_at > 60:  # once a minute in a burst, not once per message
                log.warning("plugin pool full (%d waiting): later messages' plugins run on recovery", self.backlog)
                self._deferral_logged_at = now
            return
        task = asyncio.create_task(
            self._run_pooled(message, conversation, contact, hold, code), name=f"helpline-plugins-{message.id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(log_task_failure)

    async def _run_pooled(
        self, message: Message, conversation: Conversation, contact: Contact, hold: Hold | None = None, code: str = ""
    ) -> None:
        handed = False
        try:
            async with self._slots:
                if self._draining:
                    return  # not started before shutdown: recovery runs it
                handed = True  # run_plugins releases the hold once the message has run (or waits)
                await self.run_plugins(message, code=code, hold=hold)
        finally:
            if hold is not None and not handed:
                hold.release()

    @contextlib.asynccontextmanager
    async def _ticket(self, conversation_id: str) -> AsyncIterator[None]:
        """Hold the ticket for one plugin run, in this process and against other hub processes."""
        lock = self._ticket_locks.get(conversation_id)
        if lock is None:
            lock = self._ticket_locks[conversation_id] = asyncio.Lock()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TICKET_LEASE_WAIT
        try:  # bounded: a plugin that hangs on one ticket must not hold pool slots for ever
            await asyncio.wait_for(lock.acquire(), TICKET_LEASE_WAIT)
        except TimeoutError:
            # the run holding it is this hub's, unless it is itself waiting for another hub's
            raise TicketBusy(conversation_id, here=conversation_id not in self._awaiting_lease) from None
        try:
            name = f"plugins:ticket:{conversation_id}"
            self._awaiting_lease.add(conversation_id)
            try:
                while not await self.store.coordination.acquire_lease(
                    name, self.instance_id, now=self.clock(), ttl=TICKET_LEASE_TTL
                ):
                    if loop.time() > deadline:
                        raise TicketBusy(conversation_id, here=False)
                    await asyncio.sleep(TICKET_LEASE_POLL)
            finally:
                self._awaiting_lease.discard(conversation_id)
            # Renewed while the run lasts: its plugins may take longer than the lease together
            # (each is bounded by [plugins] timeout_seconds), and another hub must not start
            # on the ticket meanwhile.
            keeper = asyncio.create_task(self._keep_lease(name), name=f"helpline-ticket-lease-{conversation_id}")
            try:
                yield
            finally:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
                with contextlib.suppress(StoreUnavailable):  # otherwise it expires by itself
                    await self.store.coordination.release_lease(name, self.instance_id)
        finally:
            lock.release()
            if self._waiting_here.get(conversation_id):  # one came while this run was ending
                task = asyncio.create_task(self._drain(conversation_id), name=f"helpline-plugins-{conversation_id}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                task.add_done_callback(log_task_failure)
            else:
                self._waiting_here.pop(conversation_id, None)

    def _running_here(self, conversation_id: str) -> bool:
        """This hub runs plugins on the ticket now (not waiting for another process's run)."""
        lock = self._ticket_locks.get(conversation_id)
        return lock is not None and lock.locked() and conversation_id not in self._awaiting_lease

    async def _drain(self, conversation_id: str) -> None:
        """Run what waits for the ticket, in order, in a pool slot."""
        async with self._slots:
            if not self._draining:  # at shutdown recovery runs them after the next start
                await self._run_in_order(conversation_id, [])

    async def _keep_lease(self, name: str) -> None:
        """Extend a held ticket lease every third of its time, until cancelled."""
        while True:
            await asyncio.sleep(TICKET_LEASE_TTL.total_seconds() / 3)
            try:
                kept = await self.store.coordination.acquire_lease(
                    name, self.instance_id, now=self.clock(), ttl=TICKET_LEASE_TTL
                )
            except Exception as exc:  # the store away, or an error of its own: tried again shortly
                log.warning("%s: not renewed now (%r); tried again shortly", name, exc)
                continue
            if not kept:  # expired and taken (this process stalled longer than the lease)
                log.warning("%s: lost to another hub process while its run went on", name)
                return

    async def run_plugins(
        self,
        message: Message,
        *,
        code: str = "",
        attempts: list[int] | None = None,
        hold: Hold | None = None,
    ) -> None:
        """Run the enabled plugins in order on one stored customer message; one run per ticket
        at a time, its messages in the order they came. `attempts` (recovery): the message's
        attempts are counted, and the count appended, only once the run holds the ticket: a
        ticket held by a long run is no failed attempt. `hold`: the ticket's live events kept
        back until this message has run (released then, or when it is left to recovery).
        The ticket and contact are read under the ticket's hold, when the message runs."""
        ticket_id = message.conversation_id
        waiting = Waiting(message, code, hold, attempts)
        if self._running_here(ticket_id):
            # Queued for the run that holds the ticket, which runs it next, in order: waiting
            # for the lock instead let a later message overtake it, and after 10 s left it to
            # recovery (a trial's 30 s plugin: the next message answered 2 min 45 s later).
            self._waiting_here.setdefault(ticket_id, []).append(waiting)
            log.info(_WAITS_HERE, message.id)
            return
        await self._run_in_order(ticket_id, [waiting])

    async def _run_in_order(self, ticket_id: str, runs: list[Waiting]) -> None:
        """Hold the ticket and run `runs` and whatever comes to wait meanwhile, oldest first
        (message ids sort by time), until none is left."""
        first = runs[0].message if runs else None
        try:
            async with self._ticket(ticket_id):
                while True:
                    runs += self._waiting_here.pop(ticket_id, [])
                    if not runs:
                        break
                    runs.sort(key=lambda run: run.message.id)
                    current = runs.pop(0)
                    try:
                        await self._run_held(current, recheck=current.message is not first)
                    finally:
                        current.release()
        except StoreUnavailable as exc:
            log.warning("plugins on ticket %s postponed: store unavailable (%s)", ticket_id, exc)
        except TicketBusy as busy:
            if busy.here:  # this hub's run took the ticket meanwhile: it runs them next
                self._waiting_here.setdefault(ticket_id, []).extend(runs)
                log.info(_WAITS_HERE, ", ".join(r.message.id for r in runs))
            else:  # ordinary with several hubs: recovery runs them
                log.info(
                    "plugins on message %s postponed: another hub process is running plugins on its ticket;"
                    " recovery runs them (within a few minutes)",
                    ", ".join(r.message.id for r in runs) or "(none)",
                )
        finally:
            for left in runs:  # not run here (the store away, another hub): events go out as the ticket is
                left.release()

    async def _run_held(self, run: Waiting, *, recheck: bool) -> None:
        """One message's plugins, its ticket held. `recheck`: read whether it was run meanwhile
        (a message that waited, or one old enough that recovery may have taken it)."""
        message, code, attempts = run.message, run.code, run.attempts
        if recheck or self.clock() - message.created_at > RECOVERY_AGE / 2:
            current = await self.store.tickets.get_message(message.id)  # recovery may have run it meanwhile
            if current is None or current.plugins_done:
                return
        if attempts is not None:
            attempts.append(await self.store.tickets.count_plugin_attempt(message.id))
        # Read now, under the ticket's hold: the copy taken at ingest may predate an earlier
        # message's run that ended just before this one began (it handed the ticket to a
        # person, and the FAQ bot answered the next question all the same: a trial).
        conversation = await self.store.tickets.get_conversation(message.conversation_id)
        contact = await self.store.contacts.get_contact(message.author_id)
        if conversation is None or contact is None:
            log.error("message %s: its conversation or contact is missing; plugins skipped", message.id)
            return
        verification = await self._check_code(message, conversation, code) if code else ""
        await self._run_each(message, conversation, contact, verification)
        await self.store.tickets.mark_plugins_done(message.id)

    async def _offered_choice_only(self, inbound: Inbound) -> Inbound:
        """The inbound with its tapped button's id (and, when the channel knew only the id, the
        button's label as its text) only when a bot offered that button on its
        thread's newest ticket (or the one that follows on from, closed meanwhile, or a ticket
        either was merged into, which holds their messages now); else its text alone
        (conversation/offers.py), before routing reads the id (a tap answering a bot is filed
        quietly) and before anything keeps it."""
        if not inbound.choice_id:
            return inbound
        latest = await self._latest_routed_to(inbound)
        if latest is not None:
            async for ticket_id in self._tickets_holding_offers(latest):
                choice = offered_choice(inbound.choice_id, await self.store.tickets.list_messages(ticket_id))
                if choice is not None:
                    return with_changes(inbound, text=tap_text(inbound.text, choice))
        log.info(
            "%s message: button %r was never offered on its thread; read as text", inbound.channel, inbound.choice_id
        )
        return with_changes(inbound, choice_id="")

    async def _after_merge(self, inbound: Inbound) -> Inbound:
        """A message on the thread of a ticket an agent merged away goes on in the ticket it was
        merged into (record_inbound follows the merges, and only into the same customer's
        ticket: follows_merge), as an email reply or the chat window does; it opened a new
        ticket (a trial's webhook thread). Only the sender's own thread: another's is routed
        to one of the sender's own (own_thread)."""
        if inbound.conversation_hint:
            return inbound
        latest = await self._latest_routed_to(inbound)
        if latest is None or not latest.merged_into or latest.customer_address != inbound.sender.address:
            return inbound
        return with_changes(inbound, conversation_hint=latest.id)

    async def _say_merged_away(self, ticket: Conversation, hint: str) -> None:
        """A new ticket opened by a customer writing on their ticket an agent merged into another
        customer's says so, naming both: a trial's agents saw a fresh ticket with nothing linking
        it to the conversation it goes on from."""
        if not hint or hint == ticket.id:
            return
        hinted = await self.store.tickets.get_conversation(hint)
        if hinted is None or not hinted.merged_into:
            return
        into = await self.store.tickets.get_conversation(hinted.merged_into)
        params = {"number": str(hinted.number), "into": str(into.number) if into else "?"}
        await self.actions.add_event(ticket, "event.goes_on_from_merged", **params)

    async def _latest_routed_to(self, inbound: Inbound) -> Conversation | None:
        """The newest ticket of the thread routing takes the message to: its own, or on another
        sender's thread the sender's own "<thread>~<id>" (routing.own_thread)."""
        latest = await self.store.tickets.latest_on_thread(inbound.channel, inbound.thread_key)
        on_thread = inbound
        for _ in range(OWN_THREAD_STEPS):
            if latest is None or not (elsewhere := own_thread(on_thread, latest)):
                break
            on_thread = with_changes(on_thread, thread_key=elsewhere)
            latest = await self.store.tickets.latest_on_thread(inbound.channel, elsewhere)
        return latest

    async def _tickets_holding_offers(self, conversation: Conversation) -> AsyncIterator[str]:
        """The ticket and the tickets it was merged into, then (read only if none held the
        offer) the ticket it follows on from and those it was merged into."""
        async for ticket_id in self._merged_chain(conversation):
            yield ticket_id
        async for ticket_id in self._merged_chain(await self._conversation(conversation.previous_id)):
            yield ticket_id

    async def _merged_chain(self, ticket: Conversation | None) -> AsyncIterator[str]:
        """A ticket, then each it was merged into (a few at most: merges do not loop, but a
        broken row must not hang this)."""
        hops = 0
        while ticket is not None and hops < MERGE_HOPS:
            yield ticket.id
            ticket, hops = await self._conversation(ticket.merged_into), hops + 1

    async def _conversation(self, conversation_id: str) -> Conversation | None:
        return await self.store.tickets.get_conversation(conversation_id) if conversation_id else None

    async def _run_each(
        self, message: Message, conversation: Conversation, contact: Contact, verification: str = ""
    ) -> None:
        shared = self._shared(conversation.channel, conversation.thread_key)
        if bystander(conversation, message.customer_address, shared_thread=shared):
            log.info("ticket #%s: a message from another member of its thread: for the agents", conversation.number)
            return
        for plugin in self.plugins:
            if (conversation.human_owned or message.automatic) and not plugin.always_run:
                continue  # a person owns it, or a machine wrote it: no bot answers
            state, version = await self.store.coordination.load_plugin_state(conversation.id, plugin.name)
            ctx = PluginContext(
                plugin=plugin.name,
                conversation=conversation,
                message=message,
                contact=contact,
                settings=plugin.settings,
                state=dict(state),
                actions=self.actions,
                # the message's own language when its words say it clearly, else the contact's:
                # a platform user whose contact was Chinese wrote "I forgot my password" and
                # was greeted and answered in Chinese (a trial)
                language=best_locale(message_language(message.text) or contact.language, self.language),
                runtime=self.runtime,
                hub=self.port,
                verification=verification,
            )
            try:
                outcome = await within_limit(
                    plugin.on_message(ctx),
                    plugin=plugin.name,
                    seconds=self.plugin_timeout,
                    metrics=self.metrics,
                    what=f"ticket #{conversation.number}",
                )
            except StoreUnavailable:
                raise
            except PluginTimedOut as exc:
                # It may have stopped half-way (an account locked, no word said): a person takes
                # the ticket, and the bots after it stay quiet rather than answer over it (those
                # that always run, on a person's tickets too, still do). Its own words say it all:
                # a traceback of the hub's timer would point at nothing of the plugin's.
                self.metrics.plugin_errors.labels(plugin.name).inc()
                log.error("%s (message %s); the ticket goes to a person", exc, message.id)
                conversation = await self._hand_off_after(conversation, plugin.name, "handoff.plugin_timed_out")
                continue
            except Exception:
                # As after a timeout: it may have failed half-way, and a customer whose message
                # only a crashed bot read waited unseen, nothing said in the thread (a trial).
                self.metrics.plugin_errors.labels(plugin.name).inc()
                log.exception(
                    "plugin %s failed on conversation %s (message %s); the ticket goes to a person",
                    plugin.name,
                    conversation.id,
                    message.id,
                )
                conversation = await self._hand_off_after(conversation, plugin.name, "handoff.plugin_failed")
                continue
            if ctx.state != state and not await self.store.coordination.set_plugin_state(
                conversation.id, plugin.name, ctx.state, version=version
            ):
                # Only when a ticket lease expired under a very slow run: never overwrite the newer state.
                log.warning(
                    "plugin %s: state of conversation %s changed meanwhile; not overwritten",
                    plugin.name,
                    conversation.id,
                )
            conversation = ctx.conversation
            if outcome is Outcome.STOP or ctx.stopped:
                break

    async def _hand_off_after(self, conversation: Conversation, plugin: str, why: str) -> Conversation:
        """The ticket as handed to a person after `plugin` timed out or raised (`why`: the
        reason's key), or as it was when a person has it already."""
        current = await self.store.tickets.get_conversation(conversation.id) or conversation
        if current.human_owned:
            return current
        seconds = f"{self.plugin_timeout:g}"
        reasons = said_in_every_language(lambda locale: hub_texts(locale).get(why, seconds=seconds))
        reason = hub_texts(self.language).get(why, seconds=seconds)
        try:
            return await self.actions.hand_off(current, reason=reason, team="", plugin=plugin, reasons=reasons)
        except StoreUnavailable:
            raise
        except Exception:  # the message is still marked done: the failing plugin is not run again
            log.exception("plugin %s stopped on %s and the ticket could not be handed off", plugin, current.id)
            return current

    async def recover(self, *, left_before: datetime | None = None) -> int:
        """Run plugins on messages a stopped hub left unprocessed; one hub at a time.

        A message is taken once it is RECOVERY_AGE old (another hub may still have it in hand),
        or at once when stored before `left_before`: the start of this process, when no other
        process serves the store, so what it finds at start was left by one that stopped.

        The lease is renewed before each message, so a long round keeps it; the least-tried
        messages come first and one that failed MAX_PLUGIN_ATTEMPTS rounds is parked (logged,
        left for the agents), so a poison message cannot starve the others.
        """
        now = self.clock()
        if not await self.store.coordination.acquire_lease(
            RECOVERY_LEASE, self.instance_id, now=now, ttl=RECOVERY_LEASE_TTL
        ):
            return 0
        self.recovery_rounds += 1
        try:
            before = now - RECOVERY_AGE if left_before is None else max(left_before, now - RECOVERY_AGE)
            messages = await self.store.tickets.messages_awaiting_plugins(
                before=before, limit=RECOVERY_BATCH, max_attempts=MAX_PLUGIN_ATTEMPTS
            )
            for message in messages:
                if self._draining:
                    break  # shutting down: the rest wait for the next start
                if not await self.store.coordination.acquire_lease(
                    RECOVERY_LEASE, self.instance_id, now=self.clock(), ttl=RECOVERY_LEASE_TTL
                ):
                    log.warning("plugin recovery: the lease went to another hub; stopping this round")
                    break
                counted: list[int] = []  # set once the run holds the ticket (a held ticket is no attempt)
                # One of the pool's runs, so a shutdown gives it the same grace (drain) even when
                # the recovery loop itself is cancelled first.
                run = asyncio.create_task(
                    self.run_plugins(message, attempts=counted), name=f"helpline-plugins-{message.id}"
                )
                self._tasks.add(run)
                run.add_done_callback(self._tasks.discard)
                try:
                    await asyncio.shield(run)
                except asyncio.CancelledError:  # the round stops waiting (shutdown); the run goes on
                    run.add_done_callback(log_task_failure)  # and its failure is still logged
                    raise
                except Exception:
                    log.exception("plugin recovery failed on message %s (attempt %s)", message.id, counted or "-")
                attempts = counted[0] if counted else 0
                if attempts >= MAX_PLUGIN_ATTEMPTS and not await self._plugins_done(message.id):
                    log.error(
                        "plugin recovery: message %s (conversation %s) parked after %d failed attempts; "
                        "its plugins will not run again",
                        message.id,
                        message.conversation_id,
                        attempts,
                    )
        finally:
            await self.store.coordination.release_lease(RECOVERY_LEASE, self.instance_id)
        if messages:
            log.info("ran plugins on %d message(s) left unprocessed by an earlier run", len(messages))
        return len(messages)

    async def _plugins_done(self, message_id: str) -> bool:
        found = await self.store.tickets.get_message(message_id)
        return found is None or found.plugins_done

    async def drain(self, timeout: float) -> None:
        """Stop taking messages; let running plugins finish within `timeout` (queued ones wait for recovery)."""
        self.accepting = False
        self._draining = True
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:  # their messages stay marked for recovery
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if pending:
                log.warning(
                    "shutdown: %d plugin run(s) did not finish within %g s; stopped, their messages run"
                    " again after the next start",
                    len(pending),
                    timeout,
                )
