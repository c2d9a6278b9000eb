"""Writes the property test draws, each with the request to send and what the documented rules expect of it.

This module holds the shared machinery and the acts on documents, incidents and early warnings; crises are in
authority_acts_crises.py, assistance, public communication and hand-offs in authority_acts_coop.py, tokens and users
in authority_acts_accounts.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from httpx2 import Response

from tests.access.authority_rules import (
    DENY,
    TLPS,
    UNAUTH,
    Actor,
    Expect,
    actor_reads,
    allow,
    forbid,
    hidden,
    share_list_fits,
)
from tests.access.authority_state import Snap
from tests.access.authority_world import COMMUNITIES, NOW, Cred, Registry, Request

Post = Callable[[Snap, Snap, Response], str | None]
ADMINS = ("org-admin", "platform-admin")
DECIDERS = ("coordinator", "org-admin")


@dataclass
class Step:
    act: str
    req: Request
    cred: Cred
    actor: Actor
    expect: Expect
    target: str | None = None
    post: Post | None = None


class Ctx:
    """What an act needs to draw a write: the state before it, the registry, and a pseudo-random generator.

    The generator is seeded by one hypothesis draw per example: what there is to choose from depends on the state
    the earlier writes left, which hypothesis' own strategies must not (it replays choices and checks that the same
    choices lead to the same draws)."""

    def __init__(self, snap: Snap, reg: Registry, rng: random.Random) -> None:
        self.snap, self.reg, self.rng = snap, reg, rng

    def flip(self) -> bool:
        return self.rng.random() < 0.5

    def num(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def pick(self, items: Iterable[Any]) -> Any:
        options = list(items)
        return self.rng.choice(options) if options else None

    def subset(self, items: Iterable[Any], low: int, high: int) -> list[Any]:
        options = list(dict.fromkeys(items))
        return self.rng.sample(options, min(len(options), self.rng.randint(low, high)))

    def actor_of(self, cred: Cred) -> Actor:
        user = self.snap.users[cred.user_id]
        if cred.kind == "session":
            return Actor(user.id, user.org, user.roles, None, active=user.active and user.id in self.snap.sessions)
        token = self.snap.tokens[cred.token_id or ""]
        return Actor(user.id, user.org, user.roles, token.scopes, active=user.active, revoked=token.revoked)

    def who(
        self, prefer: Iterable[str | None] = (), *, page: bool = False, roles: Iterable[str] = ()
    ) -> tuple[Cred, Actor]:
        """A credential: mostly of a user of a preferred organisation, often with a preferred role (so that allowed
        writes are frequent)."""
        wanted = {o for o in prefer if o}
        users = [u for u in self.reg.users if u in self.reg.creds]
        near = [u for u in users if self.snap.users[u].org in wanted]
        pool = near if near and self.num(0, 9) < 7 else users
        ranked = [u for u in pool if set(self.snap.users[u].roles) & set(roles)]
        pool = ranked if ranked and self.flip() else pool
        user = self.pick(pool)
        creds = [c for c in self.reg.creds[user] if (c.kind == "session") == page]
        cred = self.pick(creds)
        return cred, self.actor_of(cred)

    def existing(self, table: str) -> list[str]:
        """The objects of `table` the registry knows, in the order they came to exist, without deleted ones."""
        return [i for i in self.reg.of(table) if i in self.snap.objs]

    def org_ids(self) -> list[str]:
        return list(self.reg.org.values())

    def in_order(self, ids: Iterable[str]) -> list[str]:
        """Organisation or incident ids in the order they came to exist: ids are random, a replay's order is not."""
        wanted = set(ids)
        return [i for i in [*self.org_ids(), *self.existing("incidents")] if i in wanted]

    def share(self, tlp: str, *, users: bool = True, fit: bool = True) -> dict[str, list[str]]:
        """A share list; mostly one that fits the TLP, sometimes one the TLP refuses."""
        orgs = self.subset(self.org_ids(), 0, 3)
        comms = self.subset(COMMUNITIES, 0, 2)
        named = self.subset(self.reg.users, 0, 2) if users else []
        if fit and self.num(0, 9) < 8:
            if tlp == "red":
                orgs, comms = [], []
            elif tlp == "amber+strict":
                comms = []
        return {"organisations": orgs, "communities": comms, "users": named}

    def tlp(self, options: Iterable[str] = TLPS) -> str:
        return str(self.pick(options))


def base(
    ctx: Ctx, actor: Actor, obj_id: str | list[str] | None, perm: str | None, *, invalid: bool = False
) -> Expect | None:
    """The checks every act starts with: a working credential, readable objects, the act's permission, and the read
    permission of its domain ("a credential acts only where it may read")."""
    if not actor.valid:
        return Expect(UNAUTH, "the credential no longer works")
    lacks = perm is not None and perm not in actor.perms
    domain_read = next((r for prefix, r in ACT_READ if perm is not None and perm.startswith(prefix)), None)
    lacks_read = domain_read is not None and actor.scopes is not None and domain_read not in actor.scopes
    ids = obj_id if isinstance(obj_id, list) else [] if obj_id is None else [obj_id]
    for i in ids:
        obj = ctx.snap.objs[i]
        if not actor_reads(actor, ctx.snap.orgs[actor.org], obj):
            if lacks or lacks_read:  # the same refusal for every id: it reveals nothing
                return Expect(DENY, f"may not read {i} ({obj.tlp}) and lacks {perm if lacks else domain_read}")
            return hidden(f"{actor.user_id} may not read {i} ({obj.tlp})")
    if lacks:
        return forbid(f"lacks {perm}", invalid=invalid)
    if lacks_read:
        return forbid(f"a token without {domain_read} does not act there", invalid=invalid)
    return None


# The read permission of the domain a write permission acts in.
ACT_READ = (
    ("directory:document:", "directory:document:read"),
    ("access:share:", "directory:document:read"),
    ("incidents:", "incidents:incident:read"),
    ("alerts:", "alerts:alert:read"),
    ("crises:", "crises:crisis:read"),
    ("assistance:", "assistance:request:read"),
    ("comms:", "comms:communication:read"),
    ("handoffs:", "handoffs:handoff:read"),
    ("situation:", "situation:report:read"),
)


def owner_only(ctx: Ctx, actor: Actor, obj_id: str, perm: str, *, invalid: bool = False) -> Expect:
    first = base(ctx, actor, obj_id, perm, invalid=invalid)
    if first is not None:
        return first
    if actor.org != ctx.snap.objs[obj_id].owner:
        return forbid("only the owner organisation does this", invalid=invalid)
    return allow("owner", invalid=invalid)


def fits(tlp: str, share: dict[str, list[str]]) -> bool:
    return share_list_fits(tlp, share["organisations"], share["communities"])


def page_share(share: dict[str, list[str]], emails: dict[str, str]) -> dict[str, Any]:
    return {
        "organisations": share["organisations"],
        "communities": share["communities"],
        "users": " ".join(emails[u] for u in share["users"]),
    }


# --- documents ----------------------------------------------------------------------------------------------------


def document_create(ctx: Ctx) -> Step:
    page = ctx.flip()
    cred, actor = ctx.who(page=page)
    tlp = ctx.tlp()
    share = ctx.share(tlp)
    exp = base(ctx, actor, None, "directory:document:write") or allow("creates its own", invalid=not fits(tlp, share))
    title = ctx.reg.fresh("Document ")
    if page:
        emails = {u.id: u.email for u in ctx.snap.users.values()}
        req = Request(
            "POST",
            "/documents",
            form={"title": title, "kind": "sop", "tlp": tlp, "body": "b", **page_share(share, emails)},
        )
    else:
        req = Request(
            "POST",
            "/api/v1/documents",
            json={"title": title, "kind": "sop", "tlp": tlp, "body": "b", "share_with": share},
        )
    return Step("document.create" + (" (page)" if page else ""), req, cred, actor, exp)


def _document(ctx: Ctx) -> str | None:
    return ctx.pick(ctx.existing("documents"))


def document_edit(ctx: Ctx) -> Step | None:
    doc = _document(ctx)
    if doc is None:
        return None
    page = ctx.flip()
    cred, actor = ctx.who([ctx.snap.objs[doc].owner], page=page)
    version = ctx.snap.rows[doc]["version"] + (1 if ctx.num(0, 9) == 0 else 0)
    exp = owner_only(ctx, actor, doc, "directory:document:write", invalid=version != ctx.snap.rows[doc]["version"])
    if page:
        req = Request(
            "POST", f"/documents/{doc}/edit", form={"version": version, "title": "Edited", "kind": "sop", "body": "b2"}
        )
    else:
        req = Request("PATCH", f"/api/v1/documents/{doc}", json={"version": version, "title": "Edited"})
    return Step("document.edit" + (" (page)" if page else ""), req, cred, actor, exp, doc)


def document_share(ctx: Ctx) -> Step | None:
    doc = _document(ctx)
    if doc is None:
        return None
    page = ctx.flip()
    cred, actor = ctx.who([ctx.snap.objs[doc].owner], page=page)
    tlp = ctx.tlp()
    share = ctx.share(tlp)
    exp = owner_only(ctx, actor, doc, "directory:document:write", invalid=not fits(tlp, share))
    if page:
        emails = {u.id: u.email for u in ctx.snap.users.values()}
        req = Request("POST", f"/documents/{doc}/sharing", form={"tlp": tlp, **page_share(share, emails)})
    else:
        req = Request("PUT", f"/api/v1/documents/{doc}/sharing", json={"tlp": tlp, "share_with": share})
    return Step("document.share" + (" (page)" if page else ""), req, cred, actor, exp, doc)


def document_pass_on(ctx: Ctx) -> Step | None:
    """Only a recipient *organisation* (or the owner) passes TLP:AMBER on, to its own constituents."""
    snap = ctx.snap
    parents = ctx.in_order({o.parent for o in snap.orgs.values() if o.parent})
    # Often an AMBER document and a reading organisation that has constituents: the case pass-on is for.
    pairs = [
        (d, o)
        for d in ctx.existing("documents")
        if snap.objs[d].tlp == "amber"
        for o in parents
        if snap.org_reads(o, d)
    ]
    if pairs and ctx.flip():
        doc, org = ctx.pick(pairs)
        readers = [org]
    else:
        doc = _document(ctx)
        if doc is None:
            return None
        readers = [o for o in ctx.org_ids() if snap.org_reads(o, doc)]
    obj = snap.objs[doc]
    page = ctx.flip()
    cred, actor = ctx.who(readers, page=page)
    children = [o for o in ctx.org_ids() if ctx.snap.orgs[o].parent == actor.org]
    targets = ctx.subset(children or ctx.org_ids(), 1, 2) if ctx.num(0, 4) else [ctx.pick(ctx.org_ids())]
    exp = base(ctx, actor, doc, "access:share:pass-on")
    if exp is None:
        as_org = actor.org == obj.owner or ctx.snap.org_reads(actor.org, doc)
        outside = [t for t in targets if ctx.snap.orgs[t].parent != actor.org]
        if not as_org:
            exp = forbid("a user named alone is not a recipient organisation")
        elif obj.tlp != "amber":
            exp = forbid("only TLP:AMBER is passed on", invalid=bool(outside))
        elif outside:
            exp = Expect("refuse", f"not constituents of the actor's organisation: {outside}")
        else:
            exp = allow("recipient or owner passes AMBER on to its constituents")
    if page:
        req = Request("POST", f"/documents/{doc}/pass-on", form={"organisations": targets})
    else:
        req = Request("POST", f"/api/v1/documents/{doc}/pass-on", json={"organisations": targets})
    return Step("document.pass-on" + (" (page)" if page else ""), req, cred, actor, exp, doc)


def document_delete(ctx: Ctx) -> Step | None:
    doc = _document(ctx)
    if doc is None:
        return None
    cred, actor = ctx.who([ctx.snap.objs[doc].owner])
    return Step(
        "document.delete",
        Request("DELETE", f"/api/v1/documents/{doc}"),
        cred,
        actor,
        owner_only(ctx, actor, doc, "directory:document:write"),
        doc,
    )


# --- incidents ----------------------------------------------------------------------------------------------------


def incident_create(ctx: Ctx) -> Step:
    page = ctx.flip()
    cred, actor = ctx.who(page=page)
    tlp = ctx.tlp()
    share = ctx.share(tlp)
    entity = ctx.pick([None, *ctx.org_ids()])
    value = ctx.reg.fresh("new") + ".evil.example"
    exp = base(ctx, actor, None, "incidents:incident:write") or allow("records its own", invalid=not fits(tlp, share))
    aware = (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    if page:
        emails = {u.id: u.email for u in ctx.snap.users.values()}
        form = {
            "title": ctx.reg.fresh("Incident "),
            "tlp": tlp,
            "aware_at": aware,
            "countries": ["FR"],
            "entity": entity or "",
            "suspected_malicious": "yes",
            "observables": f"domain {value}",
            **page_share(share, emails),
        }
        req = Request("POST", "/incidents", form=form)
    else:
        req = Request(
            "POST",
            "/api/v1/incidents",
            json={
                "title": ctx.reg.fresh("Incident "),
                "tlp": tlp,
                "aware_at": aware + ":00Z",
                "countries": ["DE"],
                "entity": entity,
                "suspected_malicious": ctx.flip(),
                "share_with": share,
                "observables": [{"type": "domain-name", "value": value}],
            },
        )
    return Step("incident.create" + (" (page)" if page else ""), req, cred, actor, exp)


def _incident(ctx: Ctx) -> str | None:
    return ctx.pick(ctx.existing("incidents"))


def _incident_writer(ctx: Ctx, actor: Actor, inc: str, *, owner_only_act: bool, invalid: bool = False) -> Expect:
    """Edit, reports, observables: the recording organisation or the affected entity; feedback, intermediate
    requests and sharing: the recording organisation only."""
    first = base(ctx, actor, inc, "incidents:incident:write", invalid=invalid)
    if first is not None:
        return first
    row = ctx.snap.rows[inc]
    if actor.org == ctx.snap.objs[inc].owner:
        return allow("recording organisation", invalid=invalid)
    if not owner_only_act and actor.org == row["entity_org_id"]:
        return allow("affected entity", invalid=invalid)
    return forbid("neither the recording organisation nor (where allowed) the affected entity", invalid=invalid)


def incident_edit(ctx: Ctx) -> Step | None:
    inc = _incident(ctx)
    if inc is None:
        return None
    row = ctx.snap.rows[inc]
    page = ctx.flip()
    cred, actor = ctx.who([ctx.snap.objs[inc].owner, row["entity_org_id"]], page=page)
    status = ctx.pick(["triage", "ongoing", "contained", "resolved", "closed"])
    version = row["version"]
    exp = _incident_writer(ctx, actor, inc, owner_only_act=False)
    if page:
        req = Request("POST", f"/incidents/{inc}/status", form={"version": version, "status": status})
    else:
        body: dict[str, Any] = {"version": version, "suspected_malicious": ctx.flip()}
        if ctx.flip():
            body["status"] = status
        req = Request("PATCH", f"/api/v1/incidents/{inc}", json=body)
    return Step("incident.edit" + (" (page)" if page else ""), req, cred, actor, exp, inc)


def incident_report(ctx: Ctx) -> Step | None:
    inc = _incident(ctx)
    if inc is None:
        return None
    page = ctx.flip()
    cred, actor = ctx.who([ctx.snap.objs[inc].owner, ctx.snap.rows[inc]["entity_org_id"]], page=page)
    kind = ctx.pick(["early-warning", "notification", "feedback"])
    exp = _incident_writer(ctx, actor, inc, owner_only_act=kind == "feedback")
    if page:
        req = Request("POST", f"/incidents/{inc}/reports", form={"kind": kind, "summary": "s"})
    else:
        req = Request("POST", f"/api/v1/incidents/{inc}/reports", json={"kind": kind, "summary": "s"})
    return Step(f"incident.report {kind}" + (" (page)" if page else ""), req, cred, actor, exp, inc)


def incident_intermediate(ctx: Ctx) -> Step | None:
    inc = _incident(ctx)
    if inc is None:
        return None
    page = ctx.flip()
    cred, actor = ctx.who([ctx.snap.objs[inc].owner], page=page)
    due = NOW + timedelta(days=3)
    exp = _incident_writer(ctx, actor, inc, owner_only_act=True)
    if page:
        req = Request("POST", f"/incidents/{inc}/intermediate-request", form={"due_at": due.strftime("%Y-%m-%dT%H:%M")})
    else:
        req = Request("POST", f"/api/v1/incidents/{inc}/reports/intermediate-request", json={"due_at": due.isoformat()})
    return Step("incident.request-intermediate" + (" (page)" if page else ""), req, cred, actor, exp, inc)


def incident_observables(ctx: Ctx) -> Step | None:
    inc = _incident(ctx)
    if inc is None:
        return None
    cred, actor = ctx.who([ctx.snap.objs[inc].owner, ctx.snap.rows[inc]["entity_org_id"]])
    value = ctx.reg.fresh("added") + ".evil.example"
    return Step(
        "incident.observables",
        Request(
            "POST",
            f"/api/v1/incidents/{inc}/observables",
            json={"observables": [{"type": "domain-name", "value": value}]},
        ),
        cred,
        actor,
        _incident_writer(ctx, actor, inc, owner_only_act=False),
        inc,
    )


def incident_escalate(ctx: Ctx) -> Step | None:
    """Sharing an incident with a community is the recording organisation's act (a widening)."""
    inc = _incident(ctx)
    if inc is None:
        return None
    page = ctx.flip()
    cred, actor = ctx.who([ctx.snap.objs[inc].owner], page=page)
    community = "csirts-network" if page else ctx.pick(list(COMMUNITIES))
    strict = ctx.snap.objs[inc].tlp in ("red", "amber+strict")
    exp = _incident_writer(ctx, actor, inc, owner_only_act=True, invalid=strict)
    if page:
        req = Request("POST", f"/incidents/{inc}/escalate", form={})
    else:
        req = Request("POST", f"/api/v1/incidents/{inc}/escalate", json={"community": community})
    return Step("incident.escalate" + (" (page)" if page else ""), req, cred, actor, exp, inc)


# --- early warnings -----------------------------------------------------------------------------------------------


def alert_send(ctx: Ctx) -> Step:
    page = ctx.flip()
    cred, actor = ctx.who(page=page)
    tlp = ctx.tlp(["clear", "green", "amber", "amber+strict", "red"])
    share = ctx.share(tlp, users=False, fit=True)
    if not share["organisations"] and not share["communities"]:
        share["organisations"] = [ctx.pick(ctx.org_ids())]
    about = ctx.pick([None, *ctx.existing("incidents")])
    readable = about is None or actor_reads(actor, ctx.snap.orgs[actor.org], ctx.snap.objs[about])
    exp = base(ctx, actor, None, "alerts:alert:send") or allow(
        "sends its own", invalid=tlp == "red" or not fits(tlp, share) or not readable
    )
    body = {"title": ctx.reg.fresh("Alert "), "tlp": tlp, "incident": about}
    if page:
        req = Request(
            "POST",
            "/alerts",
            form={
                **body,
                "incident": about or "",
                "organisations": share["organisations"],
                "communities": share["communities"],
            },
        )
    else:
        req = Request(
            "POST",
            "/api/v1/alerts",
            json={**body, "recipients": {"organisations": share["organisations"], "communities": share["communities"]}},
        )
    return Step("alert.send" + (" (page)" if page else ""), req, cred, actor, exp)


def alert_acknowledge(ctx: Ctx) -> Step | None:
    """Acknowledging is an act for the organisation: a recipient organisation, analyst and above."""
    alert = ctx.pick(ctx.existing("alerts"))
    if alert is None:
        return None
    page = ctx.flip()
    cred, actor = ctx.who(ctx.snap.recipients.get(alert, {}), page=page)
    exp = base(ctx, actor, alert, "alerts:alert:acknowledge")
    if exp is None:
        named = actor.org in ctx.snap.recipients.get(alert, {})
        exp = allow("a recipient organisation") if named else forbid("not a recipient organisation")
    path = f"/alerts/{alert}/acknowledge" if page else f"/api/v1/alerts/{alert}/acknowledge"
    return Step(
        "alert.acknowledge" + (" (page)" if page else ""),
        Request("POST", path, form={} if page else None),
        cred,
        actor,
        exp,
        alert,
    )
