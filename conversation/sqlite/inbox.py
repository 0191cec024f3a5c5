"""SQLite: the agent's inbox: ticket lists, view counts, read markers."""

from __future__ import annotations

import re
import sqlite3
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from conversation.areas.inbox import Inbox
from conversation.codec import (
    from_epoch_ms,
    to_epoch_ms,
)
from conversation.fields import index_value
from conversation.model import (
    Conversation,
    ConversationQuery,
    Message,
    Reach,
    Status,
)
from conversation.sqlite.db import (
    COUNT_LIMIT,
    Area,
    _all_common,
    _conversation,
    _index_for_search,
    _matching_seqs_sql,
    _message,
    _time_limited,
)
from conversation.store import (
    person_term,
    search_filters,
    search_terms,
)

# conversation.progress.only_a_question in SQL: resolved from the moment it was opened.
ONLY_A_QUESTION = "c.status = 'resolved' AND c.resolved_at IS c.created_at"
NOT_ONLY_A_QUESTION = f"NOT ({ONLY_A_QUESTION})"


# The customers whose name or email address holds the search (search_text.person_term): LIKE
# ignores the case of Latin letters; the term's own % and _ are escaped. An identity's address
# only when it is an email address: a chat id holding "5531" is no answer to an order number.
PEOPLE_SQL = (
    "SELECT id FROM contacts WHERE name LIKE ?1 ESCAPE '\\' OR email LIKE ?1 ESCAPE '\\'"
    " UNION SELECT contact_id FROM identities WHERE display_name LIKE ?1 ESCAPE '\\'"
    " OR (address LIKE ?1 ESCAPE '\\' AND address LIKE '%@%')"
    " LIMIT 1000"
)


class SQLiteInbox(Area, Inbox):
    async def list_conversations(self, query: ConversationQuery) -> tuple[list[Conversation], int]:
        where, params = ["1 = 1"], []
        # (column, value, index answering "how many have this value" from the index alone)
        narrowing: list[tuple[str, Any, str]] = []
        for column, index in (
            ("channel", "conversations_channel"),
            ("assignee_id", "conversations_assignee"),
            ("team", "conversations_team"),
            ("category", "conversations_category"),
            ("contact_id", "conversations_contact"),
            ("priority", "conversations_priority"),
        ):
            value = getattr(query, column)
            if value is not None:
                value = getattr(value, "value", value)
                where.append(f"c.{column} = ?")  # column names come from the list above
                params.append(value)
                narrowing.append((column, value, index))
        if query.status is not None:
            where.append("c.status = ?")
            params.append(query.status.value)
        if query.tag is not None:
            tag = query.tag.strip().lower()
            where.append("EXISTS (SELECT 1 FROM conversation_tags t WHERE t.tag = ? AND t.conversation_id = c.id)")
            params.append(tag)
        for key, value in query.fields:  # each answered by conversation_fields_value
            where.append("c.id IN (SELECT conversation_id FROM conversation_fields WHERE value = ? AND key = ?)")
            params.extend((value, key))
        if not query.include_merged:
            where.append("c.merged_into = ''")
        if query.hide_questions:
            where.append(NOT_ONLY_A_QUESTION)
        if query.reach is not None:
            if query.reach.covers_none:
                return [], 0  # and SQLite finds no plan for "WHERE 0" with the index it is told to walk
            clause, args = _reach_sql(query.reach)
            where.append(clause)
            params.extend(args)
        terms = search_terms(query.search)
        if search_filters(query.search) and not terms:
            return [], 0  # punctuation only: nothing can match

        def job(conn: sqlite3.Connection) -> tuple[list[Conversation], int]:
            clause, args = list(where), list(params)
            if terms:
                _index_for_search(conn)
                seqs, seq_args = _matching_seqs_sql(terms)
                # The words in a message, the whole query as a custom field's value (an order
                # number), or as its customer's name or address (search_text.person_term).
                person = person_term(query.search)
                # Read first: an OR on the contact kept SQLite from its plan for the words (2x slower).
                pattern = "%" + re.sub(r"([%_\\])", r"\\\1", person) + "%"  # what agents type, never a wildcard
                people = [row[0] for row in conn.execute(PEOPLE_SQL, (pattern,))] if person else []
                clause.append(
                    f"(c.id IN (SELECT conversation_id FROM messages WHERE seq IN ({seqs}))"
                    " OR c.id IN (SELECT conversation_id FROM conversation_fields WHERE value = ?)"
                    + (f" OR c.contact_id IN ({', '.join('?' * len(people))})" if people else "")
                    + ")"
                )
                args.extend([*seq_args, index_value(query.search), *people])
            sql_where = " AND ".join(clause)
            with _time_limited(conn, self.search_seconds) if terms else nullcontext():
                total = conn.execute(
                    f"SELECT COUNT(*) FROM (SELECT 1 FROM conversations c WHERE {sql_where} LIMIT ?)",
                    (*args, COUNT_LIMIT),
                ).fetchone()[0]
                source = "conversations c"
                common = not terms and not query.fields and not query.include_merged  # a field value is rare
                if common and _all_common(conn, narrowing, query.tag):
                    # Every filter matches many tickets: walking the tickets newest first and
                    # keeping the matches finds a page sooner than sorting all the matches.
                    index = "conversations_status" if query.status is not None else "conversations_recent"
                    source = f"conversations c INDEXED BY {index}"
                rows = conn.execute(
                    f"SELECT * FROM {source} WHERE {sql_where} "
                    "ORDER BY c.last_message_at DESC, c.id DESC LIMIT ? OFFSET ?",
                    (*args, query.limit, query.offset),
                ).fetchall()
            return [_conversation(r) for r in rows], total

        return await self._call(job, write=False)

    async def newest_messages(self, conversation_ids: list[str], per_ticket: int) -> dict[str, list[Message]]:
        def job(conn: sqlite3.Connection) -> dict[str, list[Message]]:
            found = {}
            for conversation_id in conversation_ids:  # each one walks the thread index backwards
                rows = conn.execute(
                    "SELECT * FROM messages WHERE conversation_id = ? AND kind != 'event' ORDER BY seq DESC LIMIT ?",
                    (conversation_id, per_ticket),
                ).fetchall()
                if rows:
                    found[conversation_id] = [_message(row) for row in rows]
            return found

        return await self._call(job, write=False)

    async def count_views(self, agent_id: str, reach: Reach | None = None) -> dict[str, int]:
        seen, seen_args = _reach_sql(reach) if reach is not None else ("1 = 1", [])

        def job(conn: sqlite3.Connection) -> dict[str, int]:
            counts = {status.value: 0 for status in Status}
            # The status index answers the totals alone (no ticket's row is read for an admin);
            # the few tickets that only keep a status question come off the resolved count,
            # found through their own partial index (conversations_questions).
            for status, count in conn.execute(
                f"SELECT status, COUNT(*) FROM conversations c WHERE merged_into = '' AND {seen} GROUP BY status",
                seen_args,
            ):
                counts[status] = count
            counts[Status.RESOLVED.value] -= conn.execute(
                f"SELECT COUNT(*) FROM conversations c WHERE merged_into = '' AND {ONLY_A_QUESTION} AND {seen}",
                seen_args,
            ).fetchone()[0]
            for label, assignee in (("mine", agent_id), ("unassigned", "")):
                counts[label] = conn.execute(
                    "SELECT COUNT(*) FROM conversations c"
                    f" WHERE merged_into = '' AND status = 'open' AND assignee_id = ? AND {seen}",
                    (assignee, *seen_args),
                ).fetchone()[0]
            counts["all"] = sum(counts[status.value] for status in Status)
            return counts

        return await self._call(job, write=False)

    async def mark_read(self, agent_id: str, conversation_id: str, at: datetime) -> None:
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO reads VALUES (?,?,?) ON CONFLICT (agent_id, conversation_id)"
                " DO UPDATE SET read_at = MAX(read_at, excluded.read_at)",
                (agent_id, conversation_id, to_epoch_ms(at)),
            )
        )

    async def read_markers(self, agent_id: str, conversation_ids: list[str]) -> dict[str, datetime]:
        def job(conn: sqlite3.Connection) -> dict[str, datetime]:
            marks = ",".join("?" * len(conversation_ids))
            rows = conn.execute(
                f"SELECT conversation_id, read_at FROM reads WHERE agent_id = ? AND conversation_id IN ({marks})",
                (agent_id, *conversation_ids),
            )
            return {r[0]: from_epoch_ms(r[1]) for r in rows}  # type: ignore[misc]

        return await self._call(job, write=False) if conversation_ids else {}


def _reach_sql(reach: Reach) -> tuple[str, list[Any]]:
    """Reach.covers as SQL over `conversations c` (the contract tests hold the two equal)."""
    ors, args = ["0"], []
    if reach.every_team:
        ors.append("1")
    if reach.assigned and reach.assigned_teams is None:
        ors.append("c.assignee_id = ?")
        args.append(reach.agent_id)
    elif reach.assigned and reach.assigned_teams:
        ors.append(f"(c.assignee_id = ? AND c.team IN ({','.join('?' * len(reach.assigned_teams))}))")
        args.extend([reach.agent_id, *sorted(reach.assigned_teams)])
    if reach.no_team:
        ors.append("c.team = ''")
    if reach.teams:
        ors.append(f"c.team IN ({','.join('?' * len(reach.teams))})")
        args.extend(sorted(reach.teams))
    if reach.own_teams:
        ors.append(f"(c.assignee_id = '' AND c.team IN ({','.join('?' * len(reach.own_teams))}))")
        args.extend(sorted(reach.own_teams))
    covered = "(" + " OR ".join(ors) + ")"
    if not reach.hidden_teams:
        return covered, args
    hidden = f"c.team NOT IN ({','.join('?' * len(reach.hidden_teams))})"
    return f"({hidden} AND {covered})", [*sorted(reach.hidden_teams), *args]
