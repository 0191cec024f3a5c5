"""SQLite: roster entries, team roster settings, routing profiles, presence and pages (JSON documents)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from conversation.areas.roster import Roster
from conversation.assignment import AgentProfile, profile_from_doc, profile_to_doc
from conversation.paging import Page, page_from_doc, page_to_doc
from conversation.presence import PresenceRecord, presence_from_doc, presence_to_doc
from conversation.roster import (
    RosterEntry,
    TeamRoster,
    entry_from_doc,
    entry_to_doc,
    team_roster_from_doc,
    team_roster_to_doc,
)
from conversation.sqlite.db import Area


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False)


class SQLiteRoster(Area, Roster):
    async def list_entries(self, team: str | None = None) -> list[RosterEntry]:
        def job(conn: sqlite3.Connection) -> list[RosterEntry]:
            if team is None:
                rows = conn.execute("SELECT doc FROM roster_entries ORDER BY id").fetchall()
            else:
                rows = conn.execute("SELECT doc FROM roster_entries WHERE team = ? ORDER BY id", (team,)).fetchall()
            return [entry_from_doc(json.loads(row[0])) for row in rows]

        return await self._call(job, write=False)

    async def save_entry(self, entry: RosterEntry) -> None:
        doc = _json(entry_to_doc(entry))
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO roster_entries VALUES (?, ?, ?) ON CONFLICT (id)"
                " DO UPDATE SET team = excluded.team, doc = excluded.doc",
                (entry.id, entry.team, doc),
            )
        )

    async def delete_entry(self, entry_id: str) -> bool:
        job = lambda conn: conn.execute("DELETE FROM roster_entries WHERE id = ?", (entry_id,)).rowcount  # noqa: E731
        return bool(await self._call(job))

    async def replace_team_entries(self, team: str, entries: Sequence[RosterEntry]) -> None:
        rows = [(e.id, team, _json(entry_to_doc(e))) for e in entries]

        def job(conn: sqlite3.Connection) -> None:  # one transaction: a reader sees the old roster or the new
            conn.execute("DELETE FROM roster_entries WHERE team = ?", (team,))
            conn.executemany("INSERT OR REPLACE INTO roster_entries VALUES (?, ?, ?)", rows)

        await self._call(job)

    async def get_team_roster(self, team: str) -> TeamRoster | None:
        row = await self._call(
            lambda conn: conn.execute("SELECT doc FROM roster_teams WHERE team = ?", (team,)).fetchone(), write=False
        )
        return team_roster_from_doc(json.loads(row[0])) if row else None

    async def save_team_roster(self, settings: TeamRoster) -> None:
        doc = _json(team_roster_to_doc(settings))
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO roster_teams VALUES (?, ?) ON CONFLICT (team) DO UPDATE SET doc = excluded.doc",
                (settings.team, doc),
            )
        )

    async def delete_team_roster(self, team: str) -> None:
        await self._call(lambda conn: conn.execute("DELETE FROM roster_teams WHERE team = ?", (team,)))

    async def list_profiles(self) -> list[AgentProfile]:
        rows = await self._call(
            lambda conn: conn.execute("SELECT doc FROM agent_profiles ORDER BY agent_id").fetchall(), write=False
        )
        return [profile_from_doc(json.loads(row[0])) for row in rows]

    async def save_profile(self, profile: AgentProfile) -> None:
        doc = _json(profile_to_doc(profile))
        await self._call(
            lambda conn: conn.execute(
                "INSERT INTO agent_profiles VALUES (?, ?) ON CONFLICT (agent_id) DO UPDATE SET doc = excluded.doc",
                (profile.agent_id, doc),
            )
        )

    async def list_presence(self) -> list[PresenceRecord]:
        rows = await self._call(
            lambda conn: conn.execute("SELECT doc FROM presence ORDER BY agent_id").fetchall(), write=False
        )
        return [presence_from_doc(json.loads(row[0])) for row in rows]

    async def _change_presence(self, agent_id: str, change: Any) -> PresenceRecord:
        """Read, change and write one agent's record in one job on the writer thread (atomic)."""

        def job(conn: sqlite3.Connection) -> PresenceRecord:
            row = conn.execute("SELECT doc FROM presence WHERE agent_id = ?", (agent_id,)).fetchone()
            doc = json.loads(row[0]) if row else presence_to_doc(PresenceRecord(agent_id))
            change(doc)
            conn.execute(
                "INSERT INTO presence VALUES (?, ?) ON CONFLICT (agent_id) DO UPDATE SET doc = excluded.doc",
                (agent_id, _json(doc)),
            )
            return presence_from_doc(doc)

        return await self._call(job)

    async def set_presence_status(self, agent_id: str, status: str, *, now: datetime) -> PresenceRecord:
        return await self._change_presence(agent_id, lambda doc: doc.update(status=status, status_at=now.isoformat()))

    async def touch_presence(
        self, agent_id: str, *, socket: str = "", until: datetime | None = None, action_at: datetime | None = None
    ) -> None:
        def change(doc: dict[str, Any]) -> None:
            if socket and until is not None:
                doc["sockets"][socket] = until.isoformat()
            if action_at is not None:
                doc["last_action_at"] = action_at.isoformat()

        await self._change_presence(agent_id, change)

    async def drop_socket(self, agent_id: str, socket: str) -> None:
        await self._change_presence(agent_id, lambda doc: doc["sockets"].pop(socket, None))

    async def add_page(self, page: Page) -> bool:
        doc = page_to_doc(page)
        return await self._call(
            lambda conn: (
                conn.execute(
                    "INSERT OR IGNORE INTO pages VALUES (?, ?, ?, ?, ?)",
                    (page.id, page.team, doc["at"], doc["released_at"], _json(doc)),
                ).rowcount
                == 1
            )
        )

    async def list_pages(self, team: str | None = None, *, active_only: bool = False, limit: int = 100) -> list[Page]:
        where, args = ["1 = 1"], []
        if team is not None:
            where.append("team = ?")
            args.append(team)
        if active_only:
            where.append("released_at IS NULL")
        sql = f"SELECT doc FROM pages WHERE {' AND '.join(where)} ORDER BY at DESC, id DESC LIMIT ?"
        rows = await self._call(lambda conn: conn.execute(sql, (*args, limit)).fetchall(), write=False)
        return [page_from_doc(json.loads(row[0])) for row in rows]

    async def release_pages(self, team: str, *, now: datetime) -> list[Page]:
        def job(conn: sqlite3.Connection) -> list[Page]:
            rows = conn.execute("SELECT doc FROM pages WHERE team = ? AND released_at IS NULL", (team,)).fetchall()
            released = []
            for row in rows:
                doc = {**json.loads(row[0]), "released_at": now.isoformat()}
                conn.execute(
                    "UPDATE pages SET released_at = ?, doc = ? WHERE id = ?",
                    (doc["released_at"], _json(doc), doc["id"]),
                )
                released.append(page_from_doc(doc))
            return released

        return await self._call(job)
