"""Real mail servers for the tests: an aiosmtpd sink (the customers' mail provider) and
Debian's dovecot (a support mailbox), both on free loopback ports."""

from __future__ import annotations

import asyncio
import grp
import imaplib
import os
import pwd
import shutil
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.conftest import IN_CI, free_port


class Sink:
    """Receives Helpline's outgoing mail; `script` answers DATA for the next attempts."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.script: list[str] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.script:
            answer = self.script.pop(0)
            if not answer.startswith("250"):
                return answer
        self.envelopes.append(envelope)
        raw = envelope.original_content or envelope.content
        mail = message_from_bytes(raw if isinstance(raw, bytes) else str(raw).encode(), policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        self.arrived.set()
        return "250 OK"


async def start_sink() -> tuple[Sink, asyncio.base_events.Server, int]:
    sink = Sink()
    port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(sink, enable_SMTPUTF8=True, hostname="mx.customer.example"), host="127.0.0.1", port=port
    )
    return sink, server, port


@dataclass
class Dovecot:
    """A dovecot IMAP server in a temporary directory; mail processes run as `dovecot`."""

    directory: Path
    port: int = field(default_factory=free_port)
    user: str = "support"
    password: str = "mailbox-secret"
    tls: tuple[str, str] | None = None  # (certificate, key): IMAPS on `port` instead of plain IMAP
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        for sub in ("run", "state", "mail", "home"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        config = self.directory / "dovecot.conf"
        if self.tls is not None:
            ssl_settings = f"ssl = required\nssl_cert = <{self.tls[0]}\nssl_key = <{self.tls[1]}"
            listeners = f"inet_listener imap {{\n    port = 0\n  }}\n  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {self.port}\n  }}"
        else:
            ssl_settings = "ssl = no"
            listeners = f"inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}"
        config.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.directory}/run
state_dir = {self.directory}/state
log_path = {self.directory}/dovecot.log
{ssl_settings}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{self.directory}/mail/%u
passdb {{
  driver = static
  args = password={self.password}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={self.directory}/home/%u
}}
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
service imap-login {{
  {listeners}
}}
""")
        uid, gid = pwd.getpwnam("dovecot").pw_uid, grp.getgrnam("dovecot").gr_gid
        for sub in ("mail", "home"):
            os.chown(self.directory / sub, uid, gid)
        os.chmod(self.directory, 0o755)
        self.process = subprocess.Popen(["dovecot", "-F", "-c", str(config)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.client().logout()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not start: " + (self.directory / "dovecot.log").read_text(errors="replace"))

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def client(self) -> imaplib.IMAP4:
        if self.tls is not None:
            context = ssl.create_default_context(cafile=self.tls[0])
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context)
        else:
            client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, mailbox: str = "INBOX") -> None:
        client = self.client()
        try:
            client.append(mailbox, None, None, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        finally:
            client.logout()

    def seen(self) -> list[bool]:
        client = self.client()
        try:
            client.select("INBOX")
            _typ, data = client.fetch("1:*", "(FLAGS)")
            return [b"\\Seen" in (line if isinstance(line, bytes) else b"") for line in data if line]
        finally:
            client.logout()

    def rebuild_mailbox(self) -> None:
        """What a restored backup does: the same mail, new UIDs, a new UIDVALIDITY."""
        maildir = self.directory / "mail" / self.user
        for name in (
            "dovecot-uidlist",
            "dovecot-uidvalidity",
            "dovecot.index",
            "dovecot.index.cache",
            "dovecot.index.log",
        ):
            for path in maildir.glob(name + "*"):
                path.unlink()
        for path in (maildir / "cur").glob("*"):
            path.rename(maildir / "new" / path.name.split(":")[0])


def make_certificate(directory: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (openssl), for the TLS tests."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def public_temp_dir() -> Path:
    """A temporary folder the unprivileged dovecot user can enter (pytest's tmp_path
    lies below a folder private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="helpline-dovecot-"))
    directory.chmod(0o755)
    return directory


def dovecot_available() -> bool:
    if shutil.which("dovecot") is not None:
        try:
            pwd.getpwnam("dovecot")
            return True
        except KeyError:
            return False
    return False


def require_dovecot() -> None:
    import pytest

    if dovecot_available():
        return
    message = "the IMAP tests need Debian's dovecot-imapd (apt-get install dovecot-imapd)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
