"""The dashboard's store methods on SQLite and PostgreSQL: the password hash, messages per
day, client search (and migration 0011 up and down)."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import inspect

from followup.core.domain import Client
from followup.store.migrate import alembic_config, current, head_revision, upgrade
from followup.store.sql import SqlStore
from tests.report_history import T0, build


def test_the_password_hash_is_stored_and_replaced(db_url: str) -> None:
    store = SqlStore.from_url(db_url)
    store.upgrade()
    assert store.admin_password_hash() is None
    store.set_admin_password_hash("scrypt$16384$8$1$AAAA$BBBB", T0)
    store.set_admin_password_hash("scrypt$16384$8$1$CCCC$DDDD", T0 + timedelta(days=1))
    assert store.admin_password_hash() == "scrypt$16384$8$1$CCCC$DDDD"
    store.close()


def test_message_days_are_client_messages_sent_or_due_in_the_period(db_url: str) -> None:
    store = SqlStore.from_url(db_url)
    store.upgrade()
    build(store, reached=3, reached_rebooked=1, held=1)
    days = store.message_days(T0 - timedelta(days=1), T0 + timedelta(days=1))
    statuses = sorted(d.status for d in days)
    # 3 + x-stop sent, 1 + h-unreachable held out (cancelled), 5 other outcomes
    assert statuses.count("sent") == 4 and statuses.count("cancelled") == 3 and len(days) == 4 + 2 + 5
    assert all(d.at.utcoffset() == timedelta(0) for d in days)
    assert store.message_days(T0 + timedelta(days=1), T0 + timedelta(days=2)) == []
    store.close()


def test_search_by_name_id_email_phone_and_literal_wildcards(db_url: str) -> None:
    store = SqlStore.from_url(db_url)
    store.upgrade()
    for ref, first, last, phone, email in (
        ("c-1", "Maria", "Lopez", "+13055550101", "Maria.Lopez@Example.com"),
        ("c-2", "Mario", "Diaz_Ruiz", "+13055550102", None),
        ("c-3", "Ana", "100% Diaz", None, "ana@example.com"),
    ):
        store.upsert_client(Client(external_id=ref, first_name=first, last_name=last, phone=phone, email=email), T0)

    def refs(text: str, phone: str | None = None) -> list[str]:
        return [m.external_id for m in store.search_clients(text, phone)]

    assert refs("mari") == ["c-1", "c-2"]
    assert refs("MARIA LOPEZ") == ["c-1"]
    assert refs("maria.lopez@example") == ["c-1"]
    assert refs("c-3") == ["c-3"]
    assert refs("(305) 555-0102", "+13055550102") == ["c-2"]
    assert refs("_") == ["c-2"] and refs("%") == ["c-3"]  # wildcards taken literally
    assert refs("nobody") == []
    store.close()


def test_migration_0011_goes_down_and_up(db_url: str) -> None:
    store = SqlStore.from_url(db_url)
    store.upgrade()
    store.set_admin_password_hash("scrypt$1$1$1$AA$BB", T0)
    config = alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0010")
    assert current(store.engine) == "0010"
    assert "admin_credentials" not in inspect(store.engine).get_table_names()
    upgrade(store.engine)
    assert current(store.engine) == head_revision() and store.admin_password_hash() is None
    store.close()
