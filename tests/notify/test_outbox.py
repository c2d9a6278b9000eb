"""The outbox: queued in the caller's transaction, delivered to a real SMTP server, nothing lost, nothing doubled."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
from cybercrisis.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from cybercrisis.exchange.models import Peer
from cybercrisis.notify import email
from cybercrisis.notify.deliver import MAX_ATTEMPTS, backoff, deliver_due
from cybercrisis.notify.models import OutboxMessage
from cybercrisis.notify.service import notify_orgs
from tests.conftest import World, count
from tests.notify.helpers import add_contact, add_route, outbox
from tests.notify.servers import SmtpSink


@pytest.fixture
def orgs(world: World, session_factory: sessionmaker[Session]) -> dict[str, str]:
    world.org("CERT-FR", country="FR")
    world.org("CERT-Bund", country="DE")
    world.org("CERT-PL", country="PL")
    add_contact(session_factory, world.orgs["CERT-FR"], "email", "cert@cert.fr.example")
    add_contact(session_factory, world.orgs["CERT-FR"], "24x7-desk", "desk@cert.fr.example")
    add_contact(session_factory, world.orgs["CERT-FR"], "duty-officer", "duty@cert.fr.example")
    return world.orgs


def _queue(factory: sessionmaker[Session], org_ids: list[str], key: str = "test:thing:happen:1", **kw: object) -> int:
    with unit_of_work(factory) as s:
        return notify_orgs(
            s,
            event=str(kw.get("event", "test:thing:happen")),
            org_ids=org_ids,
            subject="Something happened",
            body="Details for the recipient.",
            object_id="document--00000000-0000-4000-8000-000000000001",
            payload={"n": 1},
            dedupe=key,
            marking="amber",
        )


def test_organisation_without_routes_is_notified_at_its_email_and_24x7_contacts(
    orgs: dict[str, str], db: Session, session_factory: sessionmaker[Session]
) -> None:
    assert _queue(session_factory, [orgs["CERT-FR"], orgs["CERT-PL"]]) == 2  # PL has no way to be reached
    assert {m.target for m in outbox(db)} == {"cert@cert.fr.example", "desk@cert.fr.example"}


def test_routes_take_over_from_contacts_and_match_events_by_pattern(
    orgs: dict[str, str], db: Session, session_factory: sessionmaker[Session]
) -> None:
    fr = orgs["CERT-FR"]
    add_route(session_factory, fr, "email", "alerts@cert.fr.example", ("alerts:*",))
    add_route(session_factory, fr, "email", "all@cert.fr.example", ("*",))
    add_route(session_factory, fr, "email", "acks@cert.fr.example", ("alerts:alert:acknowledge",))
    assert _queue(session_factory, [fr], key="k1", event="alerts:alert:send") == 2
    assert {m.target for m in outbox(db)} == {"alerts@cert.fr.example", "all@cert.fr.example"}
    assert _queue(session_factory, [fr], key="k2", event="incidents:incident:create") == 1


def test_an_organisation_another_node_speaks_for_is_told_by_that_node_not_at_its_contacts_here(
    orgs: dict[str, str], db: Session, session_factory: sessionmaker[Session]
) -> None:
    """In a federation each organisation hears of an object from its own node (ADR 0013): a node that pins or peers
    with CERT-FR's node does not also write to CERT-FR's contacts; routes CERT-FR set up here still work."""
    fr = orgs["CERT-FR"]
    with unit_of_work(session_factory) as s:
        s.add(
            Peer(
                id="peer--00000000-0000-4000-8000-00000000000f",
                url="https://node-fr.example/taxii2/",
                api_root="https://node-fr.example/taxii2/cybercrisis/",
                node_id="identity--00000000-0000-4000-8000-00000000000f",
                organisation_id=fr,
                token="unused",
                direction="pull",
                keys=[],
            )
        )
    assert _queue(session_factory, [fr], key="k1") == 0
    with unit_of_work(session_factory) as s:  # a disabled peer speaks for nobody: the contacts are used again
        s.execute(update(Peer).values(enabled=False))
    assert _queue(session_factory, [fr], key="k2") == 2
    with unit_of_work(session_factory) as s:
        s.execute(update(Peer).values(enabled=True))
    add_route(session_factory, fr, "email", "hub-alerts@cert.fr.example", ("*",))
    assert _queue(session_factory, [fr], key="k3") == 1
    assert {m.target for m in outbox(db) if m.dedupe_key.startswith("k3")} == {"hub-alerts@cert.fr.example"}


def test_queueing_the_same_notification_twice_queues_it_once(
    orgs: dict[str, str], db: Session, session_factory: sessionmaker[Session]
) -> None:
    assert _queue(session_factory, [orgs["CERT-FR"]]) == 2
    assert _queue(session_factory, [orgs["CERT-FR"]]) == 0
    assert count(db, OutboxMessage) == 2


def test_queued_message_is_part_of_the_callers_transaction(
    orgs: dict[str, str], db: Session, session_factory: sessionmaker[Session]
) -> None:
    class Boom(Exception):
        """The change that fails after queueing its notification."""

    def change_that_fails() -> None:
        with unit_of_work(session_factory) as s:
            notify_orgs(
                s,
                event="a:b:c",
                org_ids=[orgs["CERT-FR"]],
                subject="s",
                body="b",
                object_id=None,
                payload={},
                dedupe="x",
                marking="amber",
            )
            raise Boom

    with pytest.raises(Boom):
        change_that_fails()
    assert count(db, OutboxMessage) == 0


def test_email_is_delivered_once_with_a_message_id_from_its_dedupe_key(
    orgs: dict[str, str],
    db: Session,
    session_factory: sessionmaker[Session],
    smtp: SmtpSink,
    delivery_settings: Settings,
) -> None:
    _queue(session_factory, [orgs["CERT-FR"]])
    stats = deliver_due(session_factory, settings=delivery_settings)
    assert (stats.claimed, stats.sent, stats.retrying) == (2, 2, 0)
    assert deliver_due(session_factory, settings=delivery_settings).claimed == 0
    [msg] = smtp.messages_to("cert@cert.fr.example")
    row = next(m for m in outbox(db) if m.target == "cert@cert.fr.example")
    assert msg["Message-ID"] == email.message_id(row.dedupe_key, "cybercrisis@node.example")
    assert msg["Message-ID"].endswith("@node.example>")
    assert msg["X-Cybercrisis-Delivery"] == row.dedupe_key
    assert msg["Subject"] == "Something happened"
    assert msg["From"] == "cybercrisis@node.example"
    assert "Details for the recipient." in msg.get_payload()  # type: ignore[operator]
    assert (row.status, row.attempts, row.locked_until) == ("sent", 1, None)
    assert row.sent_at is not None
    assert len(smtp.received) == 2


def test_smtp_server_down_loses_nothing_and_backs_off_then_delivers_exactly_once(
    orgs: dict[str, str],
    db: Session,
    session_factory: sessionmaker[Session],
    smtp: SmtpSink,
    delivery_settings: Settings,
) -> None:
    smtp.stop()
    _queue(session_factory, [orgs["CERT-FR"]])
    t0 = utcnow()
    stats = deliver_due(session_factory, settings=delivery_settings, now=t0)
    assert (stats.claimed, stats.sent, stats.retrying) == (2, 0, 2)
    rows = outbox(db)
    assert {(m.status, m.attempts) for m in rows} == {("pending", 1)}
    assert {m.next_attempt_at for m in rows} == {t0 + timedelta(seconds=30)}
    assert all(m.last_error and "ConnectionRefusedError" in m.last_error for m in rows)
    assert all(m.locked_until is None for m in rows)

    # Before the backoff ends nothing is tried; a second failure doubles the wait.
    assert deliver_due(session_factory, settings=delivery_settings, now=t0 + timedelta(seconds=29)).claimed == 0
    t1 = t0 + timedelta(seconds=30)
    assert deliver_due(session_factory, settings=delivery_settings, now=t1).retrying == 2
    assert {(m.attempts, m.next_attempt_at) for m in outbox(db)} == {(2, t1 + timedelta(seconds=60))}

    smtp.start()
    t2 = t1 + timedelta(seconds=60)
    assert deliver_due(session_factory, settings=delivery_settings, now=t2).sent == 2
    assert deliver_due(session_factory, settings=delivery_settings, now=t2 + timedelta(hours=2)).claimed == 0
    assert sorted(rcpt for rcpts, _ in smtp.received for rcpt in rcpts) == [
        "cert@cert.fr.example",
        "desk@cert.fr.example",
    ]
    assert {(m.status, m.attempts, m.last_error) for m in outbox(db)} == {("sent", 3, None)}


def test_backoff_doubles_to_an_hour_and_delivery_gives_up_after_ten_attempts(
    orgs: dict[str, str],
    db: Session,
    session_factory: sessionmaker[Session],
    smtp: SmtpSink,
    delivery_settings: Settings,
) -> None:
    assert [backoff(n).total_seconds() for n in range(9)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    smtp.stop()
    _queue(session_factory, [orgs["CERT-FR"]])
    at = utcnow()
    for _ in range(MAX_ATTEMPTS):
        deliver_due(session_factory, settings=delivery_settings, now=at)
        at += timedelta(hours=1)
    assert {(m.status, m.attempts) for m in outbox(db)} == {("failed", MAX_ATTEMPTS)}
    smtp.start()
    assert deliver_due(session_factory, settings=delivery_settings, now=at + timedelta(days=1)).claimed == 0


def test_crash_between_commit_and_delivery_loses_nothing(
    orgs: dict[str, str], smtp: SmtpSink, delivery_settings: Settings
) -> None:
    # The change and its message commit together; then the process "dies" before delivering anything.
    first = make_engine(delivery_settings.effective_database_url, pool=False)
    _queue(make_sessionmaker(first), [orgs["CERT-FR"]])
    first.dispose()
    restarted = make_engine(delivery_settings.effective_database_url, pool=False)
    try:
        stats = deliver_due(make_sessionmaker(restarted), settings=delivery_settings)
    finally:
        restarted.dispose()
    assert stats.sent == 2
    assert len(smtp.messages_to("desk@cert.fr.example")) == 1


def test_claim_of_a_runner_that_died_while_sending_expires_and_the_copy_has_the_same_message_id(
    orgs: dict[str, str],
    db: Session,
    session_factory: sessionmaker[Session],
    smtp: SmtpSink,
    delivery_settings: Settings,
) -> None:
    _queue(session_factory, [orgs["CERT-FR"]])
    deliver_due(session_factory, settings=delivery_settings)
    # The runner sent, then died before recording it: the rows look claimed-but-pending.
    now = utcnow()
    with unit_of_work(session_factory) as s:
        s.execute(update(OutboxMessage).values(status="pending", sent_at=None, locked_until=now + timedelta(minutes=5)))
    assert deliver_due(session_factory, settings=delivery_settings, now=now).claimed == 0  # still claimed
    assert deliver_due(session_factory, settings=delivery_settings, now=now + timedelta(minutes=6)).sent == 2
    first, second = smtp.messages_to("cert@cert.fr.example")
    assert first["Message-ID"] == second["Message-ID"]  # receivers can drop the copy


def test_two_runners_delivering_at_once_send_each_message_once(
    orgs: dict[str, str],
    db: Session,
    session_factory: sessionmaker[Session],
    smtp: SmtpSink,
    delivery_settings: Settings,
) -> None:
    for i in range(20):
        _queue(session_factory, [orgs["CERT-FR"]], key=f"bulk:{i}")
    engines = [make_engine(delivery_settings.effective_database_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def runner(factory: sessionmaker[Session]) -> None:
        try:
            barrier.wait()
            claimed = 1
            while claimed:
                claimed = deliver_due(factory, settings=delivery_settings, batch=3).claimed
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(make_sessionmaker(e),)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for e in engines:
        e.dispose()
    assert errors == []
    assert len(smtp.received) == 40
    assert len({m["Message-ID"] for _, m in smtp.received}) == 40
    assert {m.status for m in outbox(db)} == {"sent"}


def test_email_waits_while_no_smtp_server_is_configured(
    orgs: dict[str, str], db: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    _queue(session_factory, [orgs["CERT-FR"]])
    assert deliver_due(session_factory, settings=settings).claimed == 0
    assert {(m.status, m.attempts) for m in outbox(db)} == {("pending", 0)}


def test_pgp_route_mail_is_encrypted_to_the_routes_key(
    orgs: dict[str, str], session_factory: sessionmaker[Session], smtp: SmtpSink, delivery_settings: Settings
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pgpy = pytest.importorskip("pgpy", reason="PGP mail is optional: it needs the pgpy package, not installed")
        from pgpy.constants import KeyFlags, PubKeyAlgorithm

        key = pgpy.PGPKey.new(PubKeyAlgorithm.RSAEncryptOrSign, 2048)
        key.add_uid(pgpy.PGPUID.new("CERT-FR SOC", email="soc@cert.fr.example"), usage={KeyFlags.EncryptCommunications})
    add_route(session_factory, orgs["CERT-FR"], "email", "soc@cert.fr.example", pgp_public_key=str(key.pubkey))
    _queue(session_factory, [orgs["CERT-FR"]])
    assert deliver_due(session_factory, settings=delivery_settings).sent == 1
    [msg] = smtp.messages_to("soc@cert.fr.example")
    assert msg.get_content_type() == "multipart/encrypted"
    assert "Something happened" not in str(msg)
    armored = msg.get_payload()[1].get_payload()  # type: ignore[index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clear = key.decrypt(pgpy.PGPMessage.from_blob(armored)).message
    assert "Subject: Something happened" in clear
    assert "Details for the recipient." in clear


def test_long_dedupe_keys_stay_distinct_per_recipient(
    orgs: dict[str, str], db: Session, session_factory: sessionmaker[Session]
) -> None:
    assert _queue(session_factory, [orgs["CERT-FR"]], key="k" * 400) == 2
    keys = [m.dedupe_key for m in outbox(db)]
    assert len(set(keys)) == 2
    assert all(len(k) == 300 and k.startswith("k" * 200) for k in keys)
    assert _queue(session_factory, [orgs["CERT-FR"]], key="k" * 400) == 0


def test_pgp_route_without_the_pgp_library_gets_clear_mail_and_a_logged_warning(
    orgs: dict[str, str],
    session_factory: sessionmaker[Session],
    smtp: SmtpSink,
    delivery_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from cybercrisis.notify import pgp

    def missing() -> None:
        raise pgp.PGPUnavailable("not installed")

    monkeypatch.setattr(pgp, "_pgpy", missing)
    key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBF...\n-----END PGP PUBLIC KEY BLOCK-----"
    add_route(session_factory, orgs["CERT-FR"], "email", "soc@cert.fr.example", pgp_public_key=key)
    _queue(session_factory, [orgs["CERT-FR"]])
    assert deliver_due(session_factory, settings=delivery_settings).sent == 1
    [msg] = smtp.messages_to("soc@cert.fr.example")
    assert msg.get_content_type() == "text/plain"
    assert "'pgpy' package is not installed" in caplog.text
