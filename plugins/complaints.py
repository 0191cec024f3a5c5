"""The `complaints` plugin: complaints and suggestions that reach the right department and
come back with an answer.

- A customer's "我要投诉" / "I want to complain about the seller" (conversation/complaints
  `recognise`) files a complaint on the ticket: its number (the ticket's, "C-1000"), subject,
  severity, department; the ticket goes to that team at the severity's priority. When the
  message does not say what it is about, the customer picks with buttons (channels that
  show them) or it is filed as "other" for an agent to classify. An agent converts a ticket
  through the API (`file`) the same way.
- A complaint about an agent goes to the supervisors' team (visibility "supervisors",
  hub/access.py) and is taken off that agent: the agent never sees it again.
- The customer is told each move and the outcome in their language on their channel, once
  each (`mark_told`); the ticket cannot be resolved before the outcome is sent
  (`resolve_refusal`).
- Follow-ups: internal tasks with an owner and a due date; a timer at the due date notes an
  overdue one on the ticket.
- Suggestions are kept with topic tags; on the first of each month a timer mails last
  month's report (top topics, examples, groups of similar suggestions by the FAQ matcher's
  n-gram similarity) to each configured department, once per department and month.

The rules are pure functions in conversation/complaints.py; this module stores and words them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol

from conversation import complaints as rules
from conversation.errors import InvalidInput
from conversation.model import AuthorType, Choice, Conversation, Direction, Priority, Role, new_id
from conversation.priority_rules import PrioritySource, raised
from conversation.text_language import latest_clear_language
from hub.sdk import (
    ConfigError,
    Inbound,
    Outcome,
    Plugin,
    PluginContext,
    Record,
    RecordKind,
    ServiceContext,
    Texts,
    TimerContext,
    hub_texts,
    in_every_language,
    plugin_name,
    said_in_every_language,
    setting,
    texts,
)

DOMAIN = "complaints"
COMPLAINT = "complaint"
SUGGESTION = "suggestion"
CHOICE_PREFIX = "complaint:"
REPORT_TIMER = "monthly-report"
SUPERVISORS_ONLY = "supervisors"  # the team visibility that keeps complaints about agents from them
REPORTS_HOLDER = "complaints-reports"  # where each department's monthly report is marked sent

_TITLES = {
    "number": ("Complaint number", "投诉编号"),
    "subject": ("About", "投诉对象"),
    "severity": ("Severity", "严重程度"),
    "department": ("Department", "处理部门"),
    "about_agent": ("About agent", "被投诉客服"),
    "summary": ("Summary", "内容"),
    "outcome": ("Outcome", "处理结果"),
    "follow_ups": ("Follow-ups", "内部跟进"),
}
_STATUS_TITLES = {
    "received": ("Received", "已受理"),
    "investigating": ("Investigating", "调查中"),
    "awaiting_outcome": ("Awaiting outcome", "待出结果"),
    "outcome_sent": ("Outcome sent", "已告知结果"),
    "closed": ("Closed", "已结案"),
    "new": ("New", "新建议"),
    "reviewed": ("Reviewed", "已查看"),
}


def _titled(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    en, zh = _TITLES.get(name, (name, name))
    return {**schema, "title": en, "x-title-zh-CN": zh}


def _statuses(names: tuple[str, ...]) -> dict[str, Any]:
    return {s: {"title": _STATUS_TITLES[s][0], "x-title-zh-CN": _STATUS_TITLES[s][1]} for s in names}


TEXT = {"type": "string", "maxLength": 4000}
COMPLAINT_KIND = RecordKind(
    COMPLAINT,
    {
        "type": "object",
        "title": "Complaint",
        "x-title-zh-CN": "投诉",
        "x-statuses": _statuses(rules.STATUSES),
        "properties": {
            "number": _titled("number", {"type": "string", "minLength": 1, "maxLength": 20}),
            "subject": _titled("subject", {"type": "string", "enum": list(rules.SUBJECTS)}),
            "severity": _titled("severity", {"type": "string", "enum": list(rules.SEVERITIES)}),
            "department": _titled("department", {"type": "string", "maxLength": 64}),
            "about_agent": _titled("about_agent", {"type": "string", "maxLength": 64}),
            "summary": _titled("summary", TEXT),
            "outcome": _titled("outcome", TEXT),
            "follow_ups": _titled(
                "follow_ups",
                {
                    "type": "array",
                    "maxItems": 50,
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "text": TEXT,
                            "owner": {"type": "string"},
                            "due": {"type": "string"},
                            "done": {"type": "boolean"},
                        },
                        "required": ["id", "text", "owner", "due"],
                    },
                },
            ),
        },
        "required": ["number", "subject", "severity", "department"],
        "additionalProperties": False,
    },
    queries=("number", "subject", "department"),
    statuses=rules.STATUSES,
    managed=True,  # moves and the outcome go through the plugin: the customer is told, the rules hold
    private=True,  # about agents too: record.* events only to webhooks that take private events
)
SUGGESTION_KIND = RecordKind(
    SUGGESTION,
    {
        "type": "object",
        "title": "Suggestion",
        "x-title-zh-CN": "建议",
        "x-statuses": _statuses(rules.SUGGESTION_STATUSES),
        "properties": {
            "text": {**TEXT, "title": "Suggestion", "x-title-zh-CN": "建议内容", "minLength": 1},
            "topics": {"type": "array", "items": {"type": "string"}, "title": "Topics", "x-title-zh-CN": "主题"},
            "topic": {"type": "string", "title": "Main topic", "x-title-zh-CN": "主要主题"},
            "month": {"type": "string", "pattern": r"^\d{4}-\d{2}$", "title": "Month", "x-title-zh-CN": "月份"},
        },
        "required": ["text", "topics", "topic", "month"],
        "additionalProperties": False,
    },
    queries=("topic", "month"),
    statuses=rules.SUGGESTION_STATUSES,
    managed=True,
)


class MailSender(Protocol):
    """What the report needs of a channel (the email channel's `send_mail`)."""

    async def send_mail(self, recipients: list[str], subject: str, text: str) -> None: ...


def topic_label(t: Texts, topic: str) -> str:
    """A topic's name in the catalog's language; a topic of the settings' own is its id."""
    key = f"complaints.topic.{topic}"
    return t.get(key) if t.has(key) else topic


def catalog(language: str) -> Texts:
    return texts(DOMAIN, language)


@dataclass(frozen=True)
class Filing:
    """What an agent (or the bot) files on a ticket."""

    subject: str
    severity: str = "normal"
    summary: str = ""
    about_agent: str = ""


class ComplaintsPlugin(Plugin):
    always_run: ClassVar[bool] = True  # a complaint may come on a ticket a person works
    record_kinds: ClassVar[tuple[RecordKind, ...]] = (COMPLAINT_KIND, SUGGESTION_KIND)

    @dataclass(frozen=True)
    class Settings:  # [plugins.complaints]
        departments: dict[str, str] = setting(
            dict,
            dict(rules.DEFAULT_DEPARTMENTS),
            "team per complaint subject (seller, order, agent, feature, other)",
            team=True,
        )
        topics: dict[str, Any] = setting(
            dict, {k: list(v) for k, v in rules.DEFAULT_TOPICS.items()}, "suggestion topic -> keywords (zh and en)"
        )
        report_recipients: dict[str, Any] = setting(
            dict, {}, 'team -> addresses the monthly suggestions report goes to: {team = ["a@x"]}'
        )
        report_channel: str = setting(str, "email", "the email channel whose relay sends the monthly report")
        group_similarity: float = setting(float, 0.3, "how alike (0..1) two suggestions are to be grouped")
        recognise: bool = setting(bool, True, "file complaints and suggestions a customer's message asks for")
        escalation_team: str = setting(
            str,
            "",
            # (checked at start by `unsafe_teams`, with the visibility it needs)
            "team for complaints about a supervisor of the agent department (visibility supervisors, without them)",
        )

    settings: Settings

    @classmethod
    def check_settings(cls, prefix: str, settings: Any) -> None:
        for subject, team in settings.departments.items():
            if subject not in rules.SUBJECTS or not isinstance(team, str) or not team:
                raise ConfigError(f"{prefix}.departments.{subject}: a subject ({', '.join(rules.SUBJECTS)}) -> team id")
        for topic, words in settings.topics.items():
            if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
                raise ConfigError(f"{prefix}.topics.{topic}: a list of keywords")
        for team, addresses in settings.report_recipients.items():
            if not isinstance(addresses, list) or not all(isinstance(a, str) and "@" in a for a in addresses):
                raise ConfigError(f"{prefix}.report_recipients.{team}: a list of email addresses")
        if not 0 < settings.group_similarity <= 1:
            raise ConfigError(f"{prefix}.group_similarity: between 0 and 1")

    # -- the customer's messages -----------------------------------------------------------
    def holds_live(self, inbound: Inbound) -> bool:
        """A complaint (or the subject picked for one) goes out live only once it is filed:
        one about an agent is then with the supervisors, and never in that agent's feed."""
        if inbound.automatic or not self.settings.recognise:
            return False
        return inbound.choice_id.startswith(CHOICE_PREFIX) or rules.recognise(inbound.text) == COMPLAINT

    def hold_team(self) -> str:
        return self.settings.departments.get("agent") or rules.DEFAULT_DEPARTMENTS["agent"]

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        if ctx.message.automatic or not self.settings.recognise:
            return Outcome.CONTINUE
        if ctx.chosen.startswith(CHOICE_PREFIX):
            subject = ctx.chosen.removeprefix(CHOICE_PREFIX)
            if subject in rules.SUBJECTS and not await self._has_complaint(ctx):
                await self.file(ctx, Filing(subject, summary=str(ctx.state.pop("pending", ""))), who=self.name)
            ctx.stop()
            return Outcome.STOP
        wanted = rules.recognise(ctx.message.text)
        filed = await ctx.records.of_ticket(COMPLAINT) if wanted == COMPLAINT else []
        if wanted == SUGGESTION:
            await self._suggestion_from(ctx)
        elif wanted == COMPLAINT and not filed:
            await self._complaint_from(ctx)
        else:
            if filed:
                await self._kept_from_its_agent(ctx, filed[0])
            return Outcome.CONTINUE
        ctx.stop()  # answered: no greeting on top of it
        return Outcome.STOP

    async def _suggestion_from(self, ctx: PluginContext) -> None:
        """Record the suggestion, file its ticket where the complaints department sees it (with a
        note of what was recorded) and thank the customer, naming the ticket. A trial's
        suggestion ticket stayed open with no team, category or trace of what was recorded."""
        record = await self.suggest(ctx, ctx.message.text)
        if not ctx.conversation.category:
            try:
                await ctx.set_category(COMPLAINT)
            except InvalidInput:  # the admins removed the category: the ticket keeps its own
                self.log.warning("no ticket category %r: suggestion tickets keep theirs", COMPLAINT)

        def note(locale: str) -> str:
            said = catalog(locale)
            separator = hub_texts(locale).get("list.separator")
            topics = separator.join(said.get(f"complaints.topic.{t}") for t in record.data["topics"])
            return said.get("complaints.note.suggestion", topics=topics)

        await ctx.note(note(ctx.hub.language if ctx.hub else "en"), texts=said_in_every_language(note))
        said = catalog(await _speaks(ctx))
        await ctx.reply(said.get("complaints.suggestion.thanks", number=ctx.conversation.number))

    async def _complaint_from(self, ctx: PluginContext) -> None:
        subject = rules.guess_subject(ctx.message.text)
        adapter = ctx.hub.channel_adapter(ctx.message.channel) if ctx.hub else None
        if subject is None and adapter is not None and adapter.shows_choices:
            t = catalog(await _speaks(ctx))
            ctx.state["pending"] = ctx.message.text[:4000]
            choices = [Choice(id=f"{CHOICE_PREFIX}{s}", label=t.get(f"complaints.subject.{s}")) for s in rules.SUBJECTS]
            await ctx.ask(t.get("complaints.ask_subject"), choices)
            return
        await self.file(ctx, Filing(subject or "other", summary=ctx.message.text[:4000]), who=self.name)

    async def _has_complaint(self, ctx: PluginContext) -> bool:
        """One complaint per ticket (its number is the ticket's): more words on it are for the agents."""
        return bool(await ctx.records.of_ticket(COMPLAINT))

    # -- complaints ------------------------------------------------------------------------
    async def file(self, ctx: PluginContext | ServiceContext, filing: Filing, *, who: str) -> Record:
        """File a complaint on the ticket: route it, keep it from the agent it is about, tell the customer."""
        ticket = ctx.conversation
        assert ticket is not None
        if await ctx.records.query(COMPLAINT, conversation_id=ticket.id, limit=1):
            raise InvalidInput(f"ticket #{ticket.number} has a complaint already")
        about = filing.about_agent
        if filing.subject == "agent" and not about and ctx.hub is not None:
            about = await _agent_of(ctx, ticket)
        route = rules.route(filing.subject, filing.severity, self.settings.departments, about_agent=about)
        route = await self._kept_from_subject(ctx, route)
        if filing.subject == "agent" and ctx.hub is not None:
            for problem in await self.unsafe_teams(ctx):
                self.log.error("complaint on ticket #%s: [plugins.complaints] %s", ticket.number, problem)
        number = rules.complaint_number(ticket.number)
        data = {
            "number": number,
            "subject": filing.subject,
            "severity": filing.severity,
            "department": route.team,
            "about_agent": route.about_agent,
            "summary": filing.summary,
        }
        # One complaint per ticket, made in one atomic step: of two filings at the same
        # instant (the bot and an agent, two agents) one files; the other routes nothing.
        record, made = await ctx.records.create_once(COMPLAINT, ticket.id, data, action="complaint.file")
        if not made:
            raise InvalidInput(f"ticket #{ticket.number} has a complaint already")
        await self._route(ctx, ticket, route, told=True)

        def note(locale: str) -> str:  # every value by its name in the agent's language, never an id
            said = catalog(locale)
            return said.get(
                "complaints.note.filed",
                number=number,
                subject=said.get(f"complaints.about.{filing.subject}"),  # "our staff", not a button's "Our staff"
                severity=said.get(f"complaints.severity.{filing.severity}"),
                who=plugin_name(who, locale),
            )

        await ctx.note(note(ctx.hub.language if ctx.hub else "en"), texts=said_in_every_language(note))
        language = await _speaks(ctx)
        team = await ctx.hub.team_name(route.team, language) if ctx.hub else route.team
        await self._tell(
            ctx, record, "received", catalog(language).get("complaints.received", number=number, team=team)
        )
        return record

    async def _kept_from_its_agent(self, ctx: PluginContext, record: Record) -> None:
        """A complaint's ticket that is not with its department: one held with the supervisors
        while a later message waited for its plugins goes back; one about an agent (a hub that
        stopped between filing and moving it, and runs the message again) is moved there now and
        taken off that agent, unless supervisors moved it to another team its agents cannot see."""
        data, ticket = record.data, ctx.conversation
        department = data.get("department", "")
        if data.get("subject") != "agent":
            if ticket.team == self.hold_team() != department:
                await self._route(ctx, ticket, rules.Route(department, ticket.priority.value, ""))
            return
        about = data.get("about_agent", "")
        theirs = bool(about) and ticket.assignee_id == about
        if ticket.team == department and not theirs:
            return
        team = await ctx.hub.team(ticket.team) if ctx.hub and ticket.team else None
        if team is not None and team.visibility == SUPERVISORS_ONLY and ticket.team != department and not theirs:
            return  # supervisors moved it on among themselves: theirs to decide
        route = rules.route("agent", data["severity"], self.settings.departments, about_agent=about)
        await self._route(ctx, ticket, rules.Route(department, route.priority, route.about_agent))

    async def _route(
        self, ctx: PluginContext | ServiceContext, ticket: Conversation, route: rules.Route, *, told: bool = False
    ) -> None:
        """The ticket to the complaint's department at its severity's priority, and off the
        agent it is about (they must not see it again). `told`: the caller tells the customer
        where it went itself (the "received" notice names the team), so the progress plugin's
        "passed to another team" would say it twice (a trial got both in one second)."""
        changes: dict[str, Any] = {"team": route.team, "priority": raised(ticket.priority, Priority(route.priority))}
        if route.about_agent and ticket.assignee_id == route.about_agent:
            changes["assignee_id"] = ""
        ctx.conversation = await ctx.actions.update_conversation(
            ticket, changes, priority_by=PrioritySource("plugin", self.name), told=told
        )

    async def _kept_from_subject(self, ctx: PluginContext | ServiceContext, route: rules.Route) -> rules.Route:
        """A "supervisors" team shows its tickets to its supervisors: a complaint about one of
        them goes to `escalation_team` instead (its supervisors are their managers; none: admins)."""
        if not route.about_agent or ctx.hub is None:
            return route
        team = await ctx.hub.team(route.team)
        agent = await ctx.hub.reads.get_agent(route.about_agent)
        if team is None or agent is None or agent.role is not Role.SUPERVISOR or agent.id not in team.members:
            return route
        if not self.settings.escalation_team:
            self.log.error(
                "a complaint about %s, a supervisor of team %s, is visible to them:"
                " set [plugins.complaints] escalation_team",
                agent.id,
                team.id,
            )
            return route
        return rules.Route(self.settings.escalation_team, route.priority, route.about_agent)

    async def unsafe_teams(self, ctx: ServiceContext | PluginContext) -> list[str]:
        """The configured teams for complaints about agents that would not hide them (missing,
        or a visibility other than "supervisors"), as "key: why" for the log."""
        assert ctx.hub is not None
        problems = []
        wanted = {"departments.agent": self.settings.departments.get("agent") or rules.DEFAULT_DEPARTMENTS["agent"]}
        if self.settings.escalation_team:
            wanted["escalation_team"] = self.settings.escalation_team
        for key, team_id in wanted.items():
            team = await ctx.hub.team(team_id)
            if team is None:
                problems.append(f"{key}: there is no team {team_id!r} (create it with visibility supervisors)")
            elif team.visibility != SUPERVISORS_ONLY:
                problems.append(f"{key}: team {team_id!r} has visibility {team.visibility!r}, not supervisors")
        return problems

    async def move(self, ctx: ServiceContext, record: Record, status: str) -> Record:
        rules.check_move(record.status, status)
        moved = await ctx.records.update(COMPLAINT, record.id, status=status, action="complaint.move")
        number = record.data["number"]
        said = catalog(await _speaks(ctx))
        await self._tell(ctx, moved, status, said.get(f"complaints.moved.{status}", number=number))
        return moved

    async def send_outcome(self, ctx: ServiceContext, record: Record, outcome: str) -> Record:
        text = rules.check_outcome(record.status, outcome)
        number = record.data["number"]
        said = catalog(await _speaks(ctx))
        await self._tell(ctx, record, "outcome", said.get("complaints.outcome", number=number, outcome=text))
        return await ctx.records.update(
            COMPLAINT, record.id, data={"outcome": text}, status="outcome_sent", action="complaint.outcome"
        )

    async def _tell(self, ctx: PluginContext | ServiceContext, record: Record, key: str, text: str) -> None:
        """Tell the customer once per complaint, news and version (a retried request tells nothing twice)."""
        runtime = ctx.runtime
        assert runtime is not None and ctx.conversation is not None
        if await runtime.mark_told(ctx.conversation.id, self.name, f"{record.id}:{key}", str(record.version)):
            await ctx.reply(text)

    async def add_follow_up(
        self, ctx: ServiceContext, record: Record, *, text: str, owner: str, due: datetime
    ) -> Record:
        if not text.strip():
            raise InvalidInput("text: say what is to be done")
        item = rules.FollowUp(new_id(), text.strip(), owner, due)
        items = [*rules.follow_ups(record.data), item]
        updated = await ctx.records.update(
            COMPLAINT,
            record.id,
            data={"follow_ups": [rules.follow_up_doc(f) for f in items]},
            deadline=rules.next_due(items),
            action="complaint.follow_up_add",
        )
        await ctx.schedule(due, "follow_up", {"record": record.id, "follow_up": item.id}, key=f"follow-up-{item.id}")
        return updated

    async def finish_follow_up(self, ctx: ServiceContext, record: Record, follow_up_id: str) -> Record:
        items = rules.follow_ups(record.data)
        if not any(f.id == follow_up_id for f in items):
            raise InvalidInput(f"complaint {record.data['number']} has no follow-up {follow_up_id}")
        items = [rules.FollowUp(f.id, f.text, f.owner, f.due, f.done or f.id == follow_up_id) for f in items]
        await ctx.cancel(f"follow-up-{follow_up_id}")
        return await ctx.records.update(
            COMPLAINT,
            record.id,
            data={"follow_ups": [rules.follow_up_doc(f) for f in items]},
            deadline=rules.next_due(items),
            action="complaint.follow_up_done",
        )

    async def resolve_refusal(self, ctx: ServiceContext) -> str:
        found = await ctx.records.of_ticket(COMPLAINT)
        return rules.resolve_refusal((r.data.get("number", ""), r.status) for r in found)

    # -- suggestions -----------------------------------------------------------------------
    async def suggest(self, ctx: PluginContext | ServiceContext, text: str, topics: list[str] | None = None) -> Record:
        topics = topics or rules.topics_of(text, self.settings.topics)
        data = {"text": text[:4000], "topics": topics, "topic": topics[0], "month": rules.month_of(_now(ctx))}
        return await ctx.records.create(SUGGESTION, data, action="suggestion.file")

    # -- timers ----------------------------------------------------------------------------
    async def on_start(self, ctx: ServiceContext) -> None:
        if ctx.hub is not None:
            for problem in await self.unsafe_teams(ctx):  # complaints about agents would reach them
                self.log.error("[plugins.complaints] %s", problem)
        if self.settings.report_recipients:
            await ctx.schedule(rules.next_month_start(_now(ctx)), "report", key=REPORT_TIMER)

    async def on_timer(self, ctx: TimerContext) -> None:
        if ctx.timer.name == "follow_up":
            await self._follow_up_due(ctx)
        elif ctx.timer.name == "report":
            await self.send_reports(ctx, rules.previous_month(ctx.timer.due_at))
            await ctx.schedule(rules.next_month_start(ctx.timer.due_at), "report", key=REPORT_TIMER)

    async def _follow_up_due(self, ctx: TimerContext) -> None:
        record = await ctx.records.get(COMPLAINT, str(ctx.timer.data.get("record", "")))
        if record is None or ctx.conversation is None:
            return
        # the store keeps a timer's time to the millisecond: a second's leeway for the one it was set for
        for item in rules.overdue(rules.follow_ups(record.data), ctx.timer.due_at + timedelta(seconds=1)):
            if item.id == ctx.timer.data.get("follow_up"):
                values = {
                    "number": record.data["number"],
                    "text": item.text,
                    "owner": await _agent_name(ctx, item.owner),
                    "due": f"{item.due:%Y-%m-%d %H:%M} UTC",
                }
                notes = in_every_language(DOMAIN, "complaints.note.overdue", **values)
                language = ctx.hub.language if ctx.hub else "en"
                await ctx.note(catalog(language).get("complaints.note.overdue", **values), texts=notes)

    async def send_reports(self, ctx: TimerContext | ServiceContext, month: str) -> int:
        """Mail `month`'s report to each department once (marked before sending, so two hubs
        or a repeated timer send it once; a failed send is unmarked and raised for a retry)."""
        sender = ctx.hub.channel_adapter(self.settings.report_channel) if ctx.hub else None
        if sender is None or not hasattr(sender, "send_mail"):
            raise RuntimeError(f"the report needs the email channel {self.settings.report_channel!r}")
        mailer: MailSender = sender  # type: ignore[assignment]
        body = await self.report_for(ctx, month)
        runtime = ctx.runtime
        assert runtime is not None
        sent = 0
        for team, addresses in self.settings.report_recipients.items():
            key = f"report:{team}"
            if not await runtime.mark_told(REPORTS_HOLDER, self.name, key, month):
                continue  # sent already
            try:
                await mailer.send_mail(list(addresses), body[0], body[1])
            except Exception:
                await runtime.mark_told(REPORTS_HOLDER, self.name, key, f"{month}:failed")
                raise
            sent += 1
        return sent

    async def report_for(self, ctx: TimerContext | ServiceContext, month: str) -> tuple[str, str]:
        """`month`'s report (subject, text) in the hub's language, as it is mailed (a preview)."""
        found = await ctx.records.query(SUGGESTION, month=month, limit=200)
        suggestions = [(r.data["text"], list(r.data["topics"])) for r in reversed(found)]
        return self.render_report(month, suggestions, ctx.hub.language if ctx.hub else "en")

    def render_report(self, month: str, suggestions: list[tuple[str, list[str]]], language: str) -> tuple[str, str]:
        """The report's subject and text in `language` (the hub's: it is read by staff)."""
        from conversation.faq import text_similarities  # scikit-learn: loaded when a report is made, not at start

        matrix = text_similarities([text for text, _ in suggestions]).tolist()
        similar = rules.groups(matrix, self.settings.group_similarity)
        report = rules.report(month, suggestions, similar)
        t = catalog(language)
        lines = [t.get("complaints.report.head", month=month, total=report.total), ""]
        for line in report.topics:
            lines.append(t.get("complaints.report.topic", topic=topic_label(t, line.topic), count=line.count))
            lines += [f"  - {example}" for example in line.examples]
        if report.groups:
            lines += ["", t.get("complaints.report.groups")]
            for group in report.groups:
                lines.append(t.get("complaints.report.group", count=len(group)))
                lines += [f"  - {text}" for text in group]
        return t.get("complaints.report.subject", month=month, total=report.total), "\n".join(lines)


async def _agent_of(ctx: PluginContext | ServiceContext, ticket: Conversation) -> str:
    """The agent a complaint on this ticket is about: its assignee, else the last agent who wrote."""
    if ticket.assignee_id:
        return ticket.assignee_id
    assert ctx.hub is not None
    written = [
        m
        for m in await ctx.hub.reads.list_messages(ticket.id)
        if m.direction is Direction.OUTBOUND and m.author_type is AuthorType.AGENT
    ]
    return written[-1].author_id if written else ""


async def _agent_name(ctx: TimerContext, agent_id: str) -> str:
    agent = await ctx.hub.reads.get_agent(agent_id) if ctx.hub else None
    return (agent.name or agent.email) if agent else agent_id


def complaints_plugin(plugins: Mapping[str, Plugin]) -> ComplaintsPlugin | None:
    found = plugins.get("complaints")
    return found if isinstance(found, ComplaintsPlugin) else None


def _now(ctx: PluginContext | ServiceContext) -> datetime:
    """The hub's clock, which timers come due by (tests move it); the wall clock without a hub."""
    return ctx.runtime.clock() if ctx.runtime is not None else datetime.now(UTC)


async def _speaks(ctx: PluginContext | ServiceContext) -> str:
    """The language to tell the customer in: their latest clear message's on the ticket, else
    the contact's (a trial's contact tagged "en" complained in Chinese and was answered in English)."""
    if ctx.hub is None or ctx.conversation is None:
        return ctx.language
    return latest_clear_language(await ctx.hub.reads.list_messages(ctx.conversation.id)) or ctx.language
