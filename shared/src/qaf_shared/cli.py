"""The command line every service shares: serve, migrate, tokens, outbox."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from qaf_shared.db import migrate_service
from qaf_shared.http.auth import ROLES, TokenStore
from qaf_shared.kafka import outbox
from qaf_shared.logging import configure_logging
from qaf_shared.runtime import ServiceDefinition, migrated_pool, serve


async def _migrate(definition: ServiceDefinition) -> str:
    settings = definition.settings
    return await migrate_service(
        settings.database_url, definition.name, settings.db_role_password.get_secret_value(), definition.migrations_dir
    )


async def _tokens(definition: ServiceDefinition, args: argparse.Namespace) -> int:
    async with migrated_pool(definition) as pool:
        store = TokenStore(pool)
        if args.tokens_command == "create":
            token_id, token = await store.create(args.principal, args.role)
            print(f"token id: {token_id}\ntoken:    {token}\n(shown once: store it now)")
        elif args.tokens_command == "revoke":
            if not await store.revoke(args.token_id):
                print(f"no active token with id {args.token_id}", file=sys.stderr)
                return 1
            print(f"revoked {args.token_id}")
        else:
            for row in await store.list():
                state = "revoked" if row["revoked_at"] else "active"
                print(f"{row['token_id']}  {row['role']:<13} {row['principal']:<24} {state}")
        return 0


async def _outbox(definition: ServiceDefinition, args: argparse.Namespace) -> int:
    async with migrated_pool(definition) as pool, pool.acquire() as conn:
        if args.outbox_command == "requeue":
            outbox_id = await outbox.requeue(conn, args.id)
            if outbox_id is None:
                print(f"no quarantined row with id {args.id}", file=sys.stderr)
                return 1
            print(f"requeued {args.id} as outbox row {outbox_id}")
            return 0
        rows = await outbox.quarantined(conn)
    if not rows:
        print("the outbox quarantine is empty", file=sys.stderr)
    for row in rows:
        print(
            f"{row['id']}  {row['event_id']}  {row['topic']:<20} {row['event_type']:<26} "
            f"{row['size']:>9} B  {row['quarantined_at'].isoformat(timespec='seconds')}  {row['reason']}"
        )
    return 0


# A service adds its own subcommands: `extend(subparsers)` registers them and returns, per command
# name, the function that runs it with the service definition and the parsed arguments.
CommandRunner = Callable[[ServiceDefinition, argparse.Namespace], int]
Extension = Callable[[argparse._SubParsersAction], dict[str, CommandRunner]]  # type: ignore[type-arg]


def service_main(
    make_definition: Callable[[], ServiceDefinition],
    argv: list[str] | None = None,
    extend: Extension | None = None,
) -> int:
    definition = make_definition()
    parser = argparse.ArgumentParser(prog=f"qaf-{definition.name}", description=definition.title)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the service (HTTP, consumer, outbox relay)")
    commands.add_parser("migrate", help="create the service's role and schema and apply migrations")
    tokens = commands.add_parser("tokens", help="create, revoke and list API tokens")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True)
    create = token_commands.add_parser("create")
    create.add_argument("--principal", required=True, help="opaque id of the team or person")
    create.add_argument("--role", required=True, choices=sorted(ROLES))
    revoke = token_commands.add_parser("revoke")
    revoke.add_argument("token_id")
    token_commands.add_parser("list")
    outbox_parser = commands.add_parser("outbox", help="list and requeue outbox rows Kafka refused for good")
    outbox_commands = outbox_parser.add_subparsers(dest="outbox_command", required=True)
    outbox_commands.add_parser("quarantined", help="id, event id, topic, event type, size, when and why")
    requeue = outbox_commands.add_parser("requeue", help="move a quarantined row back into the outbox")
    requeue.add_argument("id", type=int, help="its id, as `outbox quarantined` lists it")
    extra = extend(commands) if extend is not None else {}
    args = parser.parse_args(argv)

    if args.command == "serve":
        serve(definition)
        return 0
    configure_logging(definition.name, "WARNING")
    try:
        if args.command in extra:
            return extra[args.command](definition, args)
        if args.command == "migrate":
            asyncio.run(_migrate(definition))
            print(f"{definition.name}: schema is up to date")
            return 0
        if args.command == "outbox":
            return asyncio.run(_outbox(definition, args))
        return asyncio.run(_tokens(definition, args))
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
