"""The benchmark's data set, built through the project's own services (as tests/conftest.py's World does).

100 organisations across the Member States and all organisation types, in six communities, some with a
parent (constituency); 10 contacts each (1,000 in all) with mixed TLP and share lists; one analyst user
with an API token. The analyst reads another organisation, so the TLP filter has real work to do.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.schemas import ShareWith
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.db import make_engine, make_sessionmaker, unit_of_work
from cybercrisis.directory import service as directory
from cybercrisis.directory.countries import EU_MEMBER_STATES
from cybercrisis.directory.models import Community, ContactKind

COMMUNITIES = {
    "csirts-network": "technical",
    "cyclone": "operational",
    "nis-cooperation": "political",
    "cyber-exercises": "operational",
    "energy-isac": "technical",
    "health-isac": "technical",
}
# Extra (sectoral or governmental) national CSIRTs, so that a country+type filter returns several rows.
EXTRA_CSIRT_COUNTRIES = ("FR", "DE", "IT", "ES", "NL", "PL", "FR", "DE")
ENTITY_COUNTRIES = ("FR", "DE", "FR", "IT", "ES", "FR", "NL", "BE", "DE", "AT", "PL", "SE", "FI", "IE")
KINDS = [k.value for k in ContactKind]
CONTACTS_PER_ORG = 10

# The reader and the organisation it reads (not its own, so contacts are filtered by the share lists).
READER_ORG = "CSIRT-DE"
TARGET_ORG = "CSIRT-FR"
FILTER_COUNTRY = "FR"
FILTER_TYPE = "national-csirt"


@dataclass
class OrgSpec:
    short: str
    type_: str
    country: str | None
    levels: list[str]
    communities: list[str]
    parent: str | None = None


@dataclass
class Dataset:
    token: str
    reader_email: str
    target_org_id: str
    org_ids: dict[str, str] = field(default_factory=dict)
    organisations: int = 0
    contacts: int = 0
    tlp_counts: dict[str, int] = field(default_factory=dict)


def org_specs() -> list[OrgSpec]:
    specs: list[OrgSpec] = []
    for i, cc in enumerate(EU_MEMBER_STATES):
        comms = ["csirts-network"] + (["cyber-exercises"] if i % 3 == 0 else [])
        specs.append(OrgSpec(f"CSIRT-{cc}", "national-csirt", cc, ["technical"], comms))
    for n, cc in enumerate(EXTRA_CSIRT_COUNTRIES):
        specs.append(OrgSpec(f"GOVCERT-{cc}-{n}", "national-csirt", cc, ["technical"], ["csirts-network"]))
    for i, cc in enumerate(EU_MEMBER_STATES):
        type_ = "competent-authority" if i % 2 == 0 else "spoc"
        specs.append(OrgSpec(f"NCA-{cc}", type_, cc, ["operational"], ["nis-cooperation"]))
    for cc in EU_MEMBER_STATES[:20]:
        specs.append(OrgSpec(f"CCMA-{cc}", "crisis-authority", cc, ["operational", "political"], ["cyclone"]))
    for n, cc in enumerate(ENTITY_COUNTRIES):
        isac = "energy-isac" if n % 2 == 0 else "health-isac"
        specs.append(OrgSpec(f"ENT-{cc}-{n}", "entity", cc, ["technical"], [isac], parent=f"CSIRT-{cc}"))
    specs += [
        OrgSpec("EUAGENCY", "eu-body", None, ["technical", "operational"], ["csirts-network", "cyclone"]),
        OrgSpec("EUCERT", "eu-body", None, ["technical"], ["csirts-network"]),
        OrgSpec("PARTNER-US", "partner", "US", ["technical"], []),
        OrgSpec("IRSP-LU", "service-provider", "LU", ["technical"], ["energy-isac"]),
    ]
    if len(specs) != 100:
        raise RuntimeError(f"the benchmark plan has {len(specs)} organisations, not 100")
    return specs


def _contact_value(kind: str, short: str, j: int) -> tuple[str, str | None]:
    domain = f"{short.lower()}.example"
    if kind in (ContactKind.PHONE, ContactKind.DESK_24X7, ContactKind.DUTY_OFFICER):
        return f"+32 2 555 {j:02d} {len(short):02d}", None
    if kind == ContactKind.SECURE_CHANNEL:
        return f"https://matrix.{domain}/#/room/crisis-{j}", None
    if kind == ContactKind.PGP:
        return f"pgp{j}@{domain}", hashlib.sha1(f"{short}/{j}".encode(), usedforsecurity=False).hexdigest().upper()
    return f"contact{j}@{domain}", None


def _sharing(j: int, i: int, reader_org: str, reader_user: str, other_org: str) -> tuple[str, ShareWith]:
    """Mixed TLP and share lists: some contacts visible to the reader, some not."""
    if j < 3:
        return "clear", ShareWith()
    if j < 5:
        return "green", ShareWith()  # defaults to the owner's communities
    if j == 5:
        return "amber", ShareWith(organisations=[reader_org, other_org])
    if j == 6:
        return "amber", ShareWith(communities=["csirts-network"])
    if j == 7:
        return "amber", ShareWith(organisations=[other_org])
    if j == 8:
        return "amber+strict", ShareWith(organisations=[reader_org] if i % 2 == 0 else [other_org])
    return "red", ShareWith(users=[reader_user] if i % 2 == 0 else [])


def generate(database_url: str) -> Dataset:
    engine = make_engine(database_url, pool=False)
    try:
        return _generate(make_sessionmaker(engine))
    finally:
        engine.dispose()


def _generate(factory: sessionmaker[Session]) -> Dataset:
    with unit_of_work(factory) as s:
        for slug, level in COMMUNITIES.items():
            s.add(Community(slug=slug, name=slug.replace("-", " ").title(), level=level, description=""))

    specs = org_specs()
    ids: dict[str, str] = {}
    with unit_of_work(factory) as s:
        for spec in specs:  # parents come before their constituents in org_specs()
            org = directory.create_organisation(
                s,
                actor=SYSTEM,
                name=f"{spec.short} ({spec.type_.replace('-', ' ')})",
                short_name=spec.short,
                type_=spec.type_,
                country=spec.country,
                levels=spec.levels,
                communities=spec.communities,
                parent_id=ids[spec.parent] if spec.parent else None,
                website=f"https://{spec.short.lower()}.example",
                description=f"Benchmark organisation {spec.short}",
            )
            ids[spec.short] = org.id

    with unit_of_work(factory) as s:
        user, _ = accounts.create_user(
            s,
            actor=SYSTEM,
            org_ref=ids[READER_ORG],
            email="analyst@bench.example",
            roles=["analyst"],
            password=secrets.token_urlsafe(16),
        )
        token, _ = accounts.create_token(s, actor=SYSTEM, user_ref=user.id, name="bench", expires_days=1)
        reader_user = user.id

    tlp_counts: dict[str, int] = {}
    shorts = [spec.short for spec in specs]
    for i, short in enumerate(shorts):
        other = ids[shorts[(i + 7) % len(shorts)]]
        if other == ids[READER_ORG]:
            other = ids[shorts[(i + 8) % len(shorts)]]
        with unit_of_work(factory) as s:
            for j in range(CONTACTS_PER_ORG):
                kind = KINDS[j % len(KINDS)]
                value, fpr = _contact_value(kind, short, j)
                tlp, share_with = _sharing(j, i, ids[READER_ORG], reader_user, other)
                directory.create_contact(
                    s,
                    actor=SYSTEM,
                    org_id=ids[short],
                    kind=kind,
                    label=f"{kind} {j}",
                    value=value,
                    pgp_fingerprint=fpr,
                    tlp=tlp,
                    share_with=share_with,
                )
                tlp_counts[tlp] = tlp_counts.get(tlp, 0) + 1

    return Dataset(
        token=token,
        reader_email="analyst@bench.example",
        target_org_id=ids[TARGET_ORG],
        org_ids=ids,
        organisations=len(ids),
        contacts=sum(tlp_counts.values()),
        tlp_counts=tlp_counts,
    )
