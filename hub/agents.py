"""Agent accounts: Argon2id password hashes (argon2-cffi), the first admin."""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from conversation.errors import InvalidInput
from conversation.model import Agent, Role, new_id
from conversation.store import Store

DEFAULT_ADMIN_EMAIL = "admin@helpline.local"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

_hasher = PasswordHasher()  # argon2id with the library's current recommended costs


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(15)


async def add_agent(store: Store, email: str, role: Role, password: str, name: str = "") -> Agent:
    email = email.strip()
    if not EMAIL.match(email):
        raise InvalidInput(f"{email!r} is not an email address")
    if len(password) < 10:
        raise InvalidInput("a password needs at least 10 characters")
    agent = Agent(id=new_id(), email=email, role=role, password_hash=hash_password(password), name=name)
    return await store.add_agent(agent)


async def ensure_admin(store: Store) -> tuple[str, str] | None:
    """On a fresh database, create an admin; returns (email, password) to show once."""
    if await store.count_agents():
        return None
    password = generate_password()
    await add_agent(store, DEFAULT_ADMIN_EMAIL, Role.ADMIN, password, name="Administrator")
    return DEFAULT_ADMIN_EMAIL, password
