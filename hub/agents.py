"""Agent accounts: Argon2id password hashes (argon2-cffi), the first admin.

Argon2 is slow and memory-hungry on purpose (about 50-100 ms and 64 MiB a hash), so
it never runs on the event loop, and only HASHING_THREADS run at once, in their own
pool: a burst of sign-ins cannot starve blob writes and DNS in the default executor,
nor the machine's memory.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from conversation.errors import InvalidInput
from conversation.model import Agent, Role, new_id
from conversation.store import Store
from hub.i18n import hub_texts

DEFAULT_ADMIN_EMAIL = "admin@helpline.local"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

_hasher = PasswordHasher()  # argon2id with the library's current recommended costs
HASHING_THREADS = 2
_hashing = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="helpline-argon2")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_hashing, hash_password, password)


async def verify_password_off_loop(password_hash: str, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_hashing, verify_password, password_hash, password)


def generate_password() -> str:
    return secrets.token_urlsafe(15)


MIN_PASSWORD_CHARS = 10


def check_password(password: str) -> None:
    """The one rule a new password meets (added agents, changed passwords)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_CHARS} characters")


async def add_agent(store: Store, email: str, role: Role, password: str, name: str = "") -> Agent:
    email = email.strip()
    if not EMAIL.match(email):
        raise InvalidInput(f"{email!r} is not an email address")
    check_password(password)
    password_hash = await hash_password_off_loop(password)
    agent = Agent(id=new_id(), email=email, role=role, password_hash=password_hash, name=name)
    return await store.accounts.add_agent(agent)


async def ensure_admin(store: Store, language: str = "en") -> tuple[str, str] | None:
    """On a fresh database, create an admin, named in the hub's `language` (customers read an
    agent's name beside their replies: "管理员" on a zh-CN desk); returns (email, password) to
    show once."""
    if await store.accounts.count_agents():
        return None
    password = generate_password()
    name = hub_texts(language).get("agent.first_admin")
    await add_agent(store, DEFAULT_ADMIN_EMAIL, Role.ADMIN, password, name=name)
    return DEFAULT_ADMIN_EMAIL, password
