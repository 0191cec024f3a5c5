"""Who may see and change which ticket: the one authorisation check of the agent side.

Every API route on tickets, messages, contacts and attachments, the inbox search and
list, and the live feed's event filter ask `AccessPolicy.allows`. Today every signed-in
agent may see and change every ticket; scoping by team replaces this class (or extends
`allows`) and every path follows. A denied ticket answers 404, as if it did not exist,
so its number or id reveals nothing.
"""

from __future__ import annotations

from enum import StrEnum

from conversation.model import Agent, Conversation


class Access(StrEnum):
    READ = "read"  # the ticket, its messages and notes, its contact, its attachments
    WRITE = "write"  # reply, note, change, merge, move, edit its contact


class AccessPolicy:
    def allows(self, agent: Agent, conversation: Conversation, access: Access) -> bool:
        """Whether `agent` may `access` this ticket."""
        return agent.active

    def restricts(self, agent: Agent) -> bool:
        """Whether `allows` can say no to this agent for some ticket. When it cannot, hot
        paths (the live feed, the inbox counts) skip looking up each ticket."""
        return not agent.active
