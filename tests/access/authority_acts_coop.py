"""Cooperation writes for the property test: mutual assistance, public communication, law-enforcement hand-offs."""

from __future__ import annotations

import io
from typing import Any

from tests.access.authority_acts import Ctx, Step, base, fits, owner_only
from tests.access.authority_rules import EITHER, RANK, Actor, Expect, actor_reads, allow, forbid, hidden, may_add
from tests.access.authority_world import NOW, Request

NATIONAL = {"national-csirt", "spoc", "competent-authority", "crisis-authority"}
NEEDS = ["incident-response", "forensics", "malware-analysis", "ddos-mitigation", "liaison", "other"]


def _page(ctx: Ctx) -> bool:
    return bool(ctx.flip())


# --- mutual assistance --------------------------------------------------------------------------------------------


def request_create(ctx: Ctx) -> Step:
    """A Member State's national organisation asks; RED is refused (a request must reach its recipients)."""
    page = _page(ctx)
    national = [o.id for o in ctx.snap.orgs.values() if o.type in NATIONAL]
    cred, actor = ctx.who(national, page=page)
    tlp = ctx.tlp(["green", "amber", "amber+strict", "red", "clear"])
    share = ctx.share(tlp, users=False)
    crisis = ctx.pick([None, None, *ctx.existing("crises")])
    org = ctx.snap.orgs[actor.org]
    others = set(share["organisations"]) - {actor.org}
    readable = crisis is None or actor_reads(actor, org, ctx.snap.objs[crisis])
    invalid = tlp == "red" or not fits(tlp, share) or not (others or share["communities"]) or not readable
    exp = base(ctx, actor, None, "assistance:request:write")
    if exp is None:
        exp = (
            allow("a national organisation asks", invalid=invalid)
            if org.type in NATIONAL and org.country
            else forbid("only a Member State's national organisation asks", invalid=invalid)
        )
    body: dict[str, Any] = {"needs": ["forensics", "liaison"], "description": "help", "tlp": tlp, "crisis": crisis}
    if page:
        req = Request(
            "POST",
            "/assistance/new",
            form={
                **body,
                "crisis": crisis or "",
                "organisations": share["organisations"],
                "communities": share["communities"],
            },
        )
    else:
        req = Request(
            "POST",
            "/api/v1/assistance-requests",
            json={**body, "recipients": {"organisations": share["organisations"], "communities": share["communities"]}},
        )
    return Step("assistance.request" + (" (page)" if page else ""), req, cred, actor, exp)


def request_manage(ctx: Ctx) -> Step | None:
    """Withdraw, end support, record the summary: the requesting organisation."""
    req_id = ctx.pick(ctx.existing("assistance_requests"))
    if req_id is None:
        return None
    page = _page(ctx)
    cred, actor = ctx.who([ctx.snap.objs[req_id].owner], page=page)
    state = ctx.snap.rows[req_id]["state"]
    fitting = {"open": "withdraw", "in-support": "support-ended", "support-ended": "summary"}.get(state)
    verb = fitting if fitting and ctx.num(0, 2) else ctx.pick(["withdraw", "support-ended", "summary"])
    needed = {"withdraw": "open", "support-ended": "in-support", "summary": "support-ended"}[verb]
    exp = owner_only(ctx, actor, req_id, "assistance:request:write", invalid=state != needed)
    body = {"report": "It went well"} if verb == "summary" else {}
    path = f"/assistance/{req_id}/{verb}"
    req = (
        Request("POST", path, form=body)
        if page
        else Request("POST", f"/api/v1/assistance-requests/{req_id}/{verb}", json=body)
    )
    return Step(f"assistance.{verb}" + (" (page)" if page else ""), req, cred, actor, exp, req_id)


def offer_make(ctx: Ctx) -> Step | None:
    """A recipient of the request offers, never the requester."""
    req_id = ctx.pick(ctx.existing("assistance_requests"))
    if req_id is None:
        return None
    page = _page(ctx)
    readers = [o for o in ctx.org_ids() if ctx.snap.org_reads(o, req_id)]
    cred, actor = ctx.who(readers, page=page)
    row = ctx.snap.rows[req_id]
    capability = ctx.pick(row["needs"] if ctx.num(0, 4) else NEEDS)
    invalid = row["state"] != "open" or capability not in row["needs"]
    exp = base(ctx, actor, req_id, "assistance:request:write")
    if exp is None:
        exp = (
            forbid("the requester does not offer on its own request", invalid=invalid)
            if actor.org == ctx.snap.objs[req_id].owner
            else allow("a recipient offers", invalid=invalid)
        )
    body = {"capability": capability, "people": 2, "available_from": NOW.isoformat()}
    if page:
        req = Request(
            "POST", f"/assistance/{req_id}/offers", form={**body, "available_from": NOW.strftime("%Y-%m-%dT%H:%M")}
        )
    else:
        req = Request("POST", f"/api/v1/assistance-requests/{req_id}/offers", json=body)
    return Step("assistance.offer" + (" (page)" if page else ""), req, cred, actor, exp, req_id)


def offer_decide(ctx: Ctx) -> Step | None:
    """The requester accepts or declines; the offerer withdraws its own offer."""
    offers = ctx.existing("assistance_offers")
    offered = [o for o in offers if ctx.snap.rows[o]["state"] == "offered"]
    offer = ctx.pick(offered if offered and ctx.num(0, 4) else offers)
    if offer is None:
        return None
    row = ctx.snap.rows[offer]
    req_id = row["request_id"]
    withdraw = ctx.flip()
    page = _page(ctx)
    cred, actor = ctx.who([ctx.snap.objs[offer].owner if withdraw else ctx.snap.objs[req_id].owner], page=page)
    exp = base(ctx, actor, [req_id, offer], "assistance:request:write")
    request_state = ctx.snap.rows[req_id]["state"]
    if exp is None:
        deciding_org = ctx.snap.objs[offer].owner if withdraw else ctx.snap.objs[req_id].owner
        invalid = row["state"] != "offered" or (not withdraw and request_state not in ("open", "in-support"))
        exp = (
            allow("its organisation's decision", invalid=invalid)
            if actor.org == deciding_org
            else forbid("not the organisation that decides this", invalid=invalid)
        )
    if withdraw:
        verb = "withdraw"
        req = (
            Request("POST", f"/assistance/{req_id}/offers/{offer}/withdraw", form={})
            if page
            else Request("POST", f"/api/v1/assistance-requests/{req_id}/offers/{offer}/withdraw")
        )
    else:
        verb = ctx.pick(["accept", "decline"])
        req = (
            Request("POST", f"/assistance/{req_id}/offers/{offer}/decide", form={"verdict": verb, "comment": "c"})
            if page
            else Request("POST", f"/api/v1/assistance-requests/{req_id}/offers/{offer}/{verb}", json={"comment": "c"})
        )
    return Step(f"assistance.offer.{verb}" + (" (page)" if page else ""), req, cred, actor, exp, offer)


def capability_create(ctx: Ctx) -> Step:
    page = _page(ctx)
    cred, actor = ctx.who(page=page)
    tlp = ctx.tlp()
    share = ctx.share(tlp)
    exp = base(ctx, actor, None, "assistance:capability:write") or allow(
        "publishes its own", invalid=not fits(tlp, share)
    )
    body = {"kind": "forensics", "title": ctx.reg.fresh("Team "), "tlp": tlp}
    if page:
        emails = {u.id: u.email for u in ctx.snap.users.values()}
        req = Request(
            "POST",
            "/capabilities/new",
            form={
                **body,
                "notice_hours": "12",
                "people": "3",
                "organisations": share["organisations"],
                "communities": share["communities"],
                "users": " ".join(emails[u] for u in share["users"]),
            },
        )
    else:
        req = Request("POST", "/api/v1/capabilities", json={**body, "share_with": share})
    return Step("capability.create" + (" (page)" if page else ""), req, cred, actor, exp)


def capability_manage(ctx: Ctx) -> Step | None:
    cap = ctx.pick(ctx.existing("capabilities"))
    if cap is None:
        return None
    page = _page(ctx)
    cred, actor = ctx.who([ctx.snap.objs[cap].owner], page=page)
    verb = ctx.pick(["edit", "active", "delete"])
    exp = owner_only(ctx, actor, cap, "assistance:capability:write")
    version = ctx.snap.rows[cap]["version"]
    if page:
        form = {
            "edit": {"version": version, "kind": "forensics", "title": "Renamed", "notice_hours": "6", "people": "2"},
            "active": {"version": version, "active": "" if ctx.snap.rows[cap]["active"] else "yes"},
            "delete": {},
        }[verb]
        req = Request("POST", f"/capabilities/{cap}/{verb}", form=form)
    elif verb == "delete":
        req = Request("DELETE", f"/api/v1/capabilities/{cap}")
    else:
        req = Request("PATCH", f"/api/v1/capabilities/{cap}", json={"version": version, "people": 5})
    return Step(f"capability.{verb}" + (" (page)" if page else ""), req, cred, actor, exp, cap)


# --- public communication -----------------------------------------------------------------------------------------


def comm_create(ctx: Ctx) -> Step:
    page = _page(ctx)
    cred, actor = ctx.who(page=page)
    tlp = ctx.tlp(["green", "amber", "amber+strict", "red", "clear"])
    # The page's form has no share list: a draft goes to its approvers.
    share = {"organisations": [], "communities": [], "users": []} if page else ctx.share(tlp, users=False)
    approvers = ctx.subset(ctx.org_ids(), 1, 2)
    crisis = ctx.pick([None, *ctx.existing("crises")])
    readable = crisis is None or actor_reads(actor, ctx.snap.orgs[actor.org], ctx.snap.objs[crisis])
    invalid = tlp in ("red", "clear") or not fits(tlp, share) or not readable
    exp = base(ctx, actor, None, "comms:communication:write") or allow("drafts its own", invalid=invalid)
    body = {"title": ctx.reg.fresh("Statement "), "body": "text", "approvers": approvers, "tlp": tlp, "crisis": crisis}
    if page:
        req = Request("POST", "/communications/new", form={**body, "crisis": crisis or "", "kind": "statement"})
    else:
        req = Request("POST", "/api/v1/communications", json={**body, "share_with": share})
    return Step("comms.create" + (" (page)" if page else ""), req, cred, actor, exp)


def _comm_state_ok(ctx: Ctx, comm: str) -> bool:
    return ctx.snap.rows[comm]["state"] in ("draft", "approved")


def comm_edit(ctx: Ctx) -> Step | None:
    """The owner and the approving organisations co-edit; only the owner changes the approvers."""
    comm = ctx.pick(ctx.existing("communications"))
    if comm is None:
        return None
    row = ctx.snap.rows[comm]
    page = _page(ctx)
    cred, actor = ctx.who([ctx.snap.objs[comm].owner, *row["approvers"]], page=page)
    new_approvers = None if page or ctx.flip() else ctx.subset(ctx.org_ids(), 1, 2)
    exp = base(ctx, actor, comm, "comms:communication:write")
    if exp is None:
        owner = actor.org == ctx.snap.objs[comm].owner
        invalid = not _comm_state_ok(ctx, comm)
        if not owner and actor.org not in row["approvers"]:
            exp = forbid("neither the owner nor an approver", invalid=invalid)
        elif new_approvers is not None and not owner:
            exp = forbid("only the owner changes the approvers", invalid=invalid)
        else:
            exp = allow("owner or approver edits", invalid=invalid)
    version = row["current_version"]
    if page:
        req = Request(
            "POST",
            f"/communications/{comm}/edit",
            form={"version": version, "title": "New title", "body": ctx.reg.fresh("text ")},
        )
    else:
        body: dict[str, Any] = {"version": version, "body": ctx.reg.fresh("text ")}
        if new_approvers is not None:
            body["approvers"] = new_approvers
        req = Request("PATCH", f"/api/v1/communications/{comm}", json=body)
    return Step("comms.edit" + (" (page)" if page else ""), req, cred, actor, exp, comm)


def comm_verdict(ctx: Ctx) -> Step | None:
    comm = ctx.pick(ctx.existing("communications"))
    if comm is None:
        return None
    row = ctx.snap.rows[comm]
    page = _page(ctx)
    waiting = [
        o for o in row["approvers"] if ctx.snap.verdicts.get(comm, {}).get((o, row["current_version"])) != "approve"
    ]
    cred, actor = ctx.who(
        waiting or [ctx.snap.objs[comm].owner, *row["approvers"]], page=page, roles=("coordinator", "org-admin")
    )
    approve = ctx.num(0, 3) != 0
    exp = base(ctx, actor, comm, "comms:communication:approve")
    if exp is None:
        named = actor.org == ctx.snap.objs[comm].owner or actor.org in row["approvers"]
        invalid = not _comm_state_ok(ctx, comm)
        exp = (
            allow("an approver or the owner", invalid=invalid) if named else forbid("not an approver", invalid=invalid)
        )
    verb = "approve" if approve else "request-changes"
    body = {"version": row["current_version"], "comment": "c"}
    path = f"/communications/{comm}/{verb}"
    req = Request("POST", path, form=body) if page else Request("POST", "/api/v1" + path, json=body)
    return Step(f"comms.{verb}" + (" (page)" if page else ""), req, cred, actor, exp, comm)


def comm_release_withdraw(ctx: Ctx) -> Step | None:
    """Releasing (TLP:CLEAR under the owner's name) and withdrawing are the owner's."""
    comms = ctx.existing("communications")
    approved = [c for c in comms if ctx.snap.rows[c]["state"] == "approved"]
    comm = ctx.pick(approved if approved and ctx.num(0, 3) else comms)
    if comm is None:
        return None
    row = ctx.snap.rows[comm]
    page = _page(ctx)
    cred, actor = ctx.who([ctx.snap.objs[comm].owner], page=page)
    verb = "release" if ctx.num(0, 3) else "withdraw"
    if verb == "release":
        waiting = [
            o for o in row["approvers"] if ctx.snap.verdicts.get(comm, {}).get((o, row["current_version"])) != "approve"
        ]
        invalid = row["state"] != "approved" or bool(waiting) or row["kind"] != "statement"
    else:
        invalid = not _comm_state_ok(ctx, comm)
    exp = owner_only(ctx, actor, comm, "comms:communication:write", invalid=invalid)
    path = f"/communications/{comm}/{verb}"
    req = Request("POST", path, form={}) if page else Request("POST", "/api/v1" + path)
    return Step(f"comms.{verb}" + (" (page)" if page else ""), req, cred, actor, exp, comm)


# --- law-enforcement hand-offs ------------------------------------------------------------------------------------


def _law_enforcement(ctx: Ctx) -> list[str]:
    return [o for o in ctx.org_ids() if ctx.snap.orgs[o].type == "law-enforcement"]


def _handoff_expect(
    ctx: Ctx, actor: Actor, source: str, chosen: list[tuple[str, str, str]], to: list[str], tlp: str
) -> Expect:
    """A recipient hands over only where it may widen what it hands over (docs: widening, hand-offs): each observable
    is sighted in an incident the sender reads, and each recipient reads that incident already or the sender may
    add it; the package is AMBER+STRICT or AMBER, never wider than what it carries."""
    snap = ctx.snap
    exp = base(ctx, actor, source, "handoffs:handoff:write")
    if exp is not None and exp.verdict == "hidden" and tlp not in ("amber", "amber+strict"):
        return hidden(exp.why, invalid=True)  # the marking is refused before the source is looked up
    if exp is not None:
        return exp
    obj = snap.objs[source]
    flagged = snap.rows[source]["suspected_criminal" if obj.table == "crises" else "suspected_malicious"]
    invalid = (
        not flagged
        or tlp not in ("amber", "amber+strict")
        or snap.orgs[to[0]].type != "law-enforcement"
        or to[0] == actor.org
        or RANK[obj.tlp] > RANK.get(tlp, 0)
    )
    blocked = []
    for i, _t, _v in chosen:
        incident = snap.objs[i]
        if not actor_reads(actor, snap.orgs[actor.org], incident):
            invalid = True  # not sighted in an incident the sender may see
            continue
        invalid = invalid or RANK[incident.tlp] > RANK.get(tlp, 0)
        blocked += [
            (i, r)
            for r in to
            if not snap.org_reads(r, i)
            and not may_add(snap.orgs, actor.org, incident.owner, incident.tlp, ("organisation", r))
        ]
    if blocked:
        return forbid(f"may not let {blocked} read what it hands over", invalid=invalid)
    if not chosen and any(
        not snap.org_reads(r, source) and not may_add(snap.orgs, actor.org, obj.owner, obj.tlp, ("organisation", r))
        for r in to
    ):
        return Expect(
            EITHER,
            "hands over no observable to an organisation it may not widen the source to: whether "
            "the package (ids, reason) counts as widening is not documented",
        )
    return allow("hands over what it may let the recipient read", invalid=invalid)


def handoff_create(ctx: Ctx) -> Step | None:
    use_crisis = ctx.num(0, 3) == 0
    source = ctx.pick(ctx.existing("crises" if use_crisis else "incidents"))
    if source is None:
        return None
    snap = ctx.snap
    incidents = ctx.in_order(snap.links.get(source, ())) if use_crisis else [source]
    page = _page(ctx)
    cred, actor = ctx.who([o for o in ctx.org_ids() if snap.org_reads(o, source)], page=page)
    seen = [(i, t, v) for i in incidents for t, v in sorted(snap.observables.get(i, ()))]
    chosen = ctx.subset(seen, 0, 2)
    recipient = ctx.pick(_law_enforcement(ctx) if ctx.num(0, 5) else ctx.org_ids())
    onward = [] if page else ctx.subset(_law_enforcement(ctx), 0, 1)
    tlp = ctx.tlp(["amber+strict", "amber", "green", "red"])
    exp = _handoff_expect(ctx, actor, source, chosen, [recipient, *onward], tlp)
    body: dict[str, Any] = {
        "recipient": recipient,
        "reason": "criminal",
        "tlp": tlp,
        "incident" if not use_crisis else "crisis": source,
    }
    if page:
        req = Request("POST", "/handoffs/new", form={**body, "observables": [f"{t}:{v}" for _i, t, v in chosen]})
    else:
        req = Request(
            "POST",
            "/api/v1/handoffs",
            json={**body, "onward": onward, "observables": [{"type": t, "value": v} for _i, t, v in chosen]},
        )
    return Step("handoff.create" + (" (page)" if page else ""), req, cred, actor, exp, source)


def _custody_expect(ctx: Ctx, actor: Actor, h: str, verb: str, to: str | None) -> Expect:
    """Files: the sender; receipt and transfer: the holder, which transfers only within what the hand-off's TLP lets
    it pass on; notes: the sender and the holders (present or past: the organisations on its share list)."""
    snap = ctx.snap
    obj, state, holder = snap.objs[h], snap.rows[h]["state"], snap.holder(h)
    exp = base(ctx, actor, h, "handoffs:handoff:write")
    if exp is not None:
        return exp
    if verb == "files":
        sealed = any(a == "received" for a, _f, _t in snap.custody.get(h, []))
        return (
            allow("the sender adds evidence", invalid=sealed or state != "handed-over")
            if actor.org == obj.owner
            else forbid("only the sender adds evidence")
        )
    if verb == "receive":
        return (
            allow("the holder acknowledges", invalid=state == "received")
            if actor.org == holder
            else forbid("only the holder acknowledges receipt")
        )
    if verb == "transfer" and to is not None:
        invalid = state != "received" or snap.orgs[to].type != "law-enforcement" or to == holder
        new = ("organisation", to) not in obj.entries() and to != obj.owner
        if actor.org != holder:
            return forbid("only the holder transfers", invalid=invalid)
        if new and not may_add(snap.orgs, actor.org, obj.owner, obj.tlp, ("organisation", to)):
            return forbid("the holder may not widen the hand-off to the target", invalid=invalid)
        return allow("the holder transfers within what the TLP lets it pass on", invalid=invalid)
    return (
        allow("the sender or a holder")
        if actor.org == obj.owner or actor.org in obj.orgs
        else forbid("neither the sender nor a holder")
    )


def handoff_custody(ctx: Ctx) -> Step | None:
    handoffs = ctx.existing("handoffs")
    received = [h for h in handoffs if ctx.snap.rows[h]["state"] == "received"]
    h = ctx.pick(received if received and ctx.flip() else handoffs)
    if h is None:
        return None
    obj, row = ctx.snap.objs[h], ctx.snap.rows[h]
    fits_state = ["transfer", "notes"] if row["state"] == "received" else ["files", "receive"]
    verb = ctx.pick(fits_state if ctx.num(0, 2) else ["files", "receive", "transfer", "notes"])
    page = _page(ctx)
    holder = ctx.snap.holder(h)
    cred, actor = ctx.who([holder] if verb in ("receive", "transfer") else [obj.owner, holder, *obj.orgs], page=page)
    onward = [o for o in _law_enforcement(ctx) if o != holder]
    to = ctx.pick(onward if ctx.num(0, 4) else ctx.org_ids()) if verb == "transfer" else None
    form: dict[str, Any] = {"to": to, "note": "n"} if to else {"note": "seen"} if verb == "notes" else {}
    files = None
    if verb == "files":
        files = {
            "file": (ctx.reg.fresh("evidence") + ".txt", io.BytesIO(ctx.reg.fresh("bytes").encode()), "text/plain")
        }
    exp = _custody_expect(ctx, actor, h, verb, to)
    path = f"/handoffs/{h}/{verb}"
    if page:
        req = Request("POST", path, form=form, files=files)
    elif files is not None:
        req = Request("POST", "/api/v1" + path, files=files)
    else:
        req = Request("POST", "/api/v1" + path, json=form or None)
    return Step(f"handoff.{verb}" + (" (page)" if page else ""), req, cred, actor, exp, h)
