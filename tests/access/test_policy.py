"""The read policy: the Python predicate, the SQL filter and an independent oracle of the TLP 2.0 rules agree."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.access.policy import ShareEntry, can_read, read_filter
from cybercrisis.access.principal import ANONYMOUS, Principal
from cybercrisis.documents.models import Document

TLPS = ["clear", "green", "amber", "amber+strict", "red"]


def oracle(
    *,
    user: str | None,
    org: str | None,
    communities: set[str],
    tlp: str,
    owner: str,
    orgs: set[str],
    comms: set[str],
    users: set[str],
) -> bool:
    """The rules as the issue states them, written independently of the implementation."""
    if tlp == "clear":
        return True
    if user is None:
        return False
    if user in users:
        return True  # a named user reads at any level
    if tlp == "red":
        return False  # only named users, whoever the owner is; no admin bypass
    if org == owner:
        return True
    if tlp == "amber+strict":
        return org in orgs
    # green and amber: the organisation is a recipient, directly or through one of its communities
    return org in orgs or bool(communities & comms)


@dataclass(frozen=True)
class Obj:
    tlp: str
    owner: int
    orgs: frozenset[int]
    comms: frozenset[int]
    users: frozenset[int]


N_ORGS, N_COMMS, N_USERS = 6, 3, 8

objects = st.lists(
    st.builds(
        Obj,
        tlp=st.sampled_from(TLPS),
        owner=st.integers(0, N_ORGS - 1),
        orgs=st.frozensets(st.integers(0, N_ORGS - 1), max_size=3),
        comms=st.frozensets(st.integers(0, N_COMMS - 1), max_size=2),
        users=st.frozensets(st.integers(0, N_USERS - 1), max_size=3),
    ),
    min_size=1,
    max_size=25,
)
memberships = st.lists(st.frozensets(st.integers(0, N_COMMS - 1), max_size=2), min_size=N_ORGS, max_size=N_ORGS)
user_orgs = st.lists(st.integers(0, N_ORGS - 1), min_size=N_USERS, max_size=N_USERS)


def _principals(user_orgs: list[int], memberships: list[frozenset[int]], ids: dict[str, list[str]]) -> list[Principal]:
    out = [ANONYMOUS]
    for u, o in enumerate(user_orgs):
        out.append(
            Principal(
                user_id=ids["user"][u],
                org_id=ids["org"][o],
                communities=frozenset(ids["comm"][c] for c in memberships[o]),
                # Platform-admin style permissions must not matter for reading.
                roles=("platform-admin",) if u % 3 == 0 else ("viewer",),
            )
        )
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(objs=objects, memberships=memberships, user_orgs=user_orgs)
def test_sql_filter_predicate_and_oracle_agree_for_every_principal_and_object(
    engine: Engine, objs: list[Obj], memberships: list[frozenset[int]], user_orgs: list[int]
) -> None:
    ids = {
        "org": [f"identity--{uuid.uuid4()}" for _ in range(N_ORGS)],
        "comm": [f"comm-{i}" for i in range(N_COMMS)],
        "user": [f"user--{uuid.uuid4()}" for _ in range(N_USERS)],
    }
    principals = _principals(user_orgs, memberships, ids)
    with engine.connect() as conn:
        trans = conn.begin()
        session = Session(bind=conn)
        try:
            # Foreign keys to organisations/users are not what is under test: insert the rows they point to.
            from cybercrisis.directory.models import Organisation

            session.add_all(Organisation(id=i, name=i, short_name=i[-12:], type="national-csirt") for i in ids["org"])
            session.flush()
            doc_ids = []
            for n, o in enumerate(objs):
                did = f"document--{uuid.uuid4()}"
                doc_ids.append(did)
                session.add(Document(id=did, title=str(n), tlp=o.tlp, owner_org_id=ids["org"][o.owner]))
                session.add_all(Share(object_id=did, kind="organisation", target=ids["org"][i]) for i in o.orgs)
                session.add_all(Share(object_id=did, kind="community", target=ids["comm"][i]) for i in o.comms)
                session.add_all(Share(object_id=did, kind="user", target=ids["user"][i]) for i in o.users)
            session.flush()
            for p in principals:
                visible = set(session.scalars(select(Document.id).where(read_filter(p, Document))))
                for did, o in zip(doc_ids, objs, strict=True):
                    expected = oracle(
                        user=p.user_id,
                        org=p.org_id,
                        communities=set(p.communities),
                        tlp=o.tlp,
                        owner=ids["org"][o.owner],
                        orgs={ids["org"][i] for i in o.orgs},
                        comms={ids["comm"][i] for i in o.comms},
                        users={ids["user"][i] for i in o.users},
                    )
                    entries = (
                        [ShareEntry("organisation", ids["org"][i]) for i in o.orgs]
                        + [ShareEntry("community", ids["comm"][i]) for i in o.comms]
                        + [ShareEntry("user", ids["user"][i]) for i in o.users]
                    )
                    predicate = can_read(p, tlp=o.tlp, owner_org_id=ids["org"][o.owner], shares=entries)
                    assert predicate == expected, (p, o)
                    assert (did in visible) == expected, (p, o)
        finally:
            session.close()
            trans.rollback()


def test_red_is_hidden_from_the_owner_organisation_unless_named() -> None:
    colleague = Principal(user_id="user--b", org_id="identity--owner", roles=("platform-admin",))
    assert not can_read(colleague, tlp="red", owner_org_id="identity--owner", shares=[ShareEntry("user", "user--a")])
    named = Principal(user_id="user--a", org_id="identity--other")
    assert can_read(named, tlp="red", owner_org_id="identity--owner", shares=[ShareEntry("user", "user--a")])


def test_amber_strict_ignores_community_shares() -> None:
    member = Principal(user_id="user--m", org_id="identity--m", communities=frozenset({"csirts-network"}))
    assert not can_read(
        member,
        tlp="amber+strict",
        owner_org_id="identity--o",
        shares=[ShareEntry("community", "csirts-network")],
    )
    assert can_read(member, tlp="amber", owner_org_id="identity--o", shares=[ShareEntry("community", "csirts-network")])


def test_anonymous_reads_clear_only() -> None:
    for tlp in TLPS:
        assert can_read(ANONYMOUS, tlp=tlp, owner_org_id="identity--o", shares=[]) == (tlp == "clear")
