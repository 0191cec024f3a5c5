"""SQLite: contacts and their identities (one person across channels)."""

from __future__ import annotations

import sqlite3

from conversation.areas.contacts import Contacts
from conversation.identity import ContactEmail, merged_email, merged_language
from conversation.model import (
    Contact,
)
from conversation.rules import check_merge
from conversation.sqlite.db import (
    Area,
    _get_contact,
)
from conversation.store import (
    NotFound,
)


class SQLiteContacts(Area, Contacts):
    async def get_contact(self, contact_id: str) -> Contact | None:
        return await self._call(lambda conn: _get_contact(conn, contact_id), write=False)

    async def find_identity_contact(self, channel: str, address: str) -> Contact | None:
        def job(conn: sqlite3.Connection) -> Contact | None:
            row = conn.execute(
                "SELECT contact_id FROM identities WHERE channel = ? AND address = ?", (channel, address)
            ).fetchone()
            return _get_contact(conn, row[0]) if row else None

        return await self._call(job, write=False)

    async def contact_labels(self, contact_ids: list[str]) -> dict[str, str]:
        def job(conn: sqlite3.Connection) -> dict[str, str]:
            marks = ",".join("?" * len(contact_ids))
            rows = conn.execute(
                f"SELECT c.id, c.name, c.email, MIN(i.display_name), MIN(i.address) FROM contacts c"
                f" LEFT JOIN identities i ON i.contact_id = c.id WHERE c.id IN ({marks}) GROUP BY c.id",
                contact_ids,
            )
            return {r[0]: r[1] or r[2] or r[3] or r[4] or "" for r in rows}

        return await self._call(job, write=False) if contact_ids else {}

    async def update_contact(
        self,
        contact_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        language: str | None = None,
        tier: str | None = None,
    ) -> Contact:
        def job(conn: sqlite3.Connection) -> Contact:
            if conn.execute("SELECT 1 FROM contacts WHERE id = ?", (contact_id,)).fetchone() is None:
                raise NotFound(f"contact {contact_id}")
            if name is not None:
                conn.execute("UPDATE contacts SET name = ? WHERE id = ?", (name, contact_id))
            if email is not None:  # an agent's or a visitor's word: a claim, never a verified email
                conn.execute("UPDATE contacts SET email = ?, email_verified = 0 WHERE id = ?", (email, contact_id))
            if language is not None:
                conn.execute("UPDATE contacts SET language = ? WHERE id = ?", (language, contact_id))
            if tier is not None:
                conn.execute("UPDATE contacts SET tier = ? WHERE id = ?", (tier, contact_id))
            contact = _get_contact(conn, contact_id)
            assert contact is not None
            return contact

        return await self._call(job)

    async def merge_contacts(self, source_id: str, target_id: str) -> Contact:
        def job(conn: sqlite3.Connection) -> Contact:
            source, target = _get_contact(conn, source_id), _get_contact(conn, target_id)
            source, target = check_merge("contact", source_id, target_id, source, target)
            conn.execute("UPDATE identities SET contact_id = ? WHERE contact_id = ?", (target_id, source_id))
            conn.execute("UPDATE conversations SET contact_id = ? WHERE contact_id = ?", (target_id, source_id))
            conn.execute(
                "UPDATE messages SET author_id = ? WHERE author_id = ? AND author_type = 'contact'",
                (target_id, source_id),
            )
            # The person's surveys go with them (the doc keeps the contact too), else one
            # merged away could no longer answer theirs.
            conn.execute(
                "UPDATE csat_surveys SET contact_id = ?, doc = json_set(doc, '$.contact_id', ?) WHERE contact_id = ?",
                (target_id, target_id, source_id),
            )
            conn.execute("UPDATE contacts SET merged_into = ? WHERE id = ?", (target_id, source_id))
            email = merged_email(
                ContactEmail(target.email, target.email_verified), ContactEmail(source.email, source.email_verified)
            )
            conn.execute(
                "UPDATE contacts SET email = ?, email_verified = ?, language = ? WHERE id = ?",
                (email.address, int(email.verified), merged_language(target.language, source.language), target_id),
            )
            merged = _get_contact(conn, target_id)
            assert merged is not None
            return merged

        return await self._call(job)
