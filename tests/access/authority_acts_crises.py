"""Crisis writes for the property test: the crisis itself, incidents, escalation, decisions and actions.

The escalation model is the one authority_world.escalation_model writes: CSIRTs Network (technical), EU-CyCLONe
(operational), IPCR information sharing (political, the Presidency agrees to enter and to leave).
"""

from __future__ import annotations

from typing import Any

from httpx2 import Response

from tests.access.authority_acts import DECIDERS, Ctx, Step, base, fits, owner_only, page_share
from tests.access.authority_rules import Actor, Expect, actor_reads, allow, forbid, may_add
from tests.access.authority_state import Snap
from tests.access.authority_world import NOW, STAGES, Request

LEVEL = {"csirts-network": "technical", "eu-cyclone": "operational", "ipcr-information-sharing": "political"}
COMMUNITY = {"csirts-network": "csirts-network", "eu-cyclone": "eu-cyclone", "ipcr-information-sharing": "ipcr"}
LEVELS = ["technical", "operational", "political"]


def approvers(ctx: Ctx, stage: str) -> set[str]:
    return {ctx.reg.org["PRESIDENCY"]} if stage == "ipcr-information-sharing" else set()


def participants_at(snap: Snap, crisis: str, level: str) -> set[str]:
    """The owner, and members of the communities of the stages at `level`."""
    slugs = {COMMUNITY[s] for s in STAGES if LEVEL[s] == level}
    return {snap.objs[crisis].owner} | {o for c in slugs for o in snap.members(c)}


def deciders_at(snap: Snap, level: str) -> set[str]:
    """The deciding members at `level` (issue 13): the members of that level's communities, not the owner as such
    (every membership of this world has the role `member`; observers and secretariats are tested in
    tests/crises/test_governance.py)."""
    slugs = {COMMUNITY[s] for s in STAGES if LEVEL[s] == level}
    return {o for c in slugs for o in snap.members(c)}


def taking_part(snap: Snap, crisis: str) -> set[str]:
    """The owner, and members of the communities of the stages reached so far (up to the current stage)."""
    rank = STAGES.index(snap.rows[crisis]["stage"])
    return {snap.objs[crisis].owner} | {o for s in STAGES[: rank + 1] for o in snap.members(COMMUNITY[s])}


def _crisis(ctx: Ctx) -> str | None:
    return ctx.pick(ctx.existing("crises"))


def _is_open(snap: Snap, crisis: str) -> bool:
    return bool(snap.rows[crisis]["status"] == "open")


def _pending(snap: Snap, crisis: str) -> list[str]:
    return [
        e
        for e, r in snap.rows.items()
        if snap.objs[e].table == "escalations" and r["crisis_id"] == crisis and r["state"] == "pending"
    ]


def _crisis_act(
    ctx: Ctx, actor: Actor, crisis: str, perm: str, allowed: set[str], why: str, *, invalid: bool = False
) -> Expect:
    first = base(ctx, actor, crisis, perm, invalid=invalid)
    if first is not None:
        return first
    if actor.org in allowed:
        return allow(why, invalid=invalid)
    return forbid(f"not {why}", invalid=invalid)


def _owner_perm(ctx: Ctx, actor: Actor, crisis: str, perm: str, *, invalid: bool = False) -> Expect:
    """docs: "edit or re-share a crisis; unlink incidents from it | crises:crisis:write" and "close or reopen a
    crisis | crises:decision:write", each "the organisation that opened the crisis"."""
    return owner_only(ctx, actor, crisis, perm, invalid=invalid)


def crisis_open(ctx: Ctx) -> Step:
    page = ctx.flip()
    cred, actor = ctx.who(page=page, roles=DECIDERS)
    tlp = ctx.tlp()
    share = ctx.share(tlp) if ctx.flip() else None
    stage = ctx.pick(STAGES)
    incidents = ctx.subset(ctx.existing("incidents"), 0, 2)
    org = ctx.snap.orgs[actor.org]
    unreadable = [i for i in incidents if not actor_reads(actor, org, ctx.snap.objs[i])]
    invalid = (
        bool(unreadable) or (share is not None and not fits(tlp, share)) or bool(approvers(ctx, stage) - {actor.org})
    )
    exp = base(ctx, actor, None, "crises:crisis:write") or allow("opens its own", invalid=invalid)
    body = {"title": ctx.reg.fresh("Crisis "), "justification": "j", "tlp": tlp, "stage": stage, "incidents": incidents}
    if page:
        emails = {u.id: u.email for u in ctx.snap.users.values()}
        form = {
            **body,
            "suspected_criminal": "yes",
            **page_share(share or {"organisations": [], "communities": [], "users": []}, emails),
        }
        req = Request("POST", "/crises/new", form=form)
    else:
        req = Request("POST", "/api/v1/crises", json={**body, "share_with": share, "suspected_criminal": True})
    return Step("crisis.open" + (" (page)" if page else ""), req, cred, actor, exp)


def crisis_edit(ctx: Ctx) -> Step | None:
    crisis = _crisis(ctx)
    if crisis is None:
        return None
    cred, actor = ctx.who([ctx.snap.objs[crisis].owner], roles=DECIDERS)
    body = {"version": ctx.snap.rows[crisis]["version"], "suspected_criminal": ctx.flip()}
    exp = _owner_perm(ctx, actor, crisis, "crises:crisis:write")
    return Step("crisis.edit", Request("PATCH", f"/api/v1/crises/{crisis}", json=body), cred, actor, exp, crisis)


def crisis_share(ctx: Ctx) -> Step | None:
    crisis = _crisis(ctx)
    if crisis is None:
        return None
    cred, actor = ctx.who([ctx.snap.objs[crisis].owner], roles=DECIDERS)
    tlp = ctx.tlp()
    share = ctx.share(tlp)
    exp = _owner_perm(ctx, actor, crisis, "crises:crisis:write", invalid=not fits(tlp, share))
    return Step(
        "crisis.share",
        Request("PUT", f"/api/v1/crises/{crisis}/sharing", json={"tlp": tlp, "share_with": share}),
        cred,
        actor,
        exp,
        crisis,
    )


def crisis_link(ctx: Ctx) -> Step | None:
    """The owner links any incident it reads; an organisation taking part links its own."""
    crisis = _crisis(ctx)
    if crisis is None:
        return None
    page = ctx.flip()
    cred, actor = ctx.who(taking_part(ctx.snap, crisis), page=page, roles=DECIDERS)
    mine = [i for i in ctx.existing("incidents") if ctx.snap.objs[i].owner == actor.org]
    pool = mine if mine and ctx.flip() else ctx.existing("incidents")
    incidents = ctx.subset(pool, 1, 2)
    org = ctx.snap.orgs[actor.org]
    unreadable = [i for i in incidents if not actor_reads(actor, org, ctx.snap.objs[i])]
    foreign = [i for i in incidents if ctx.snap.objs[i].owner != actor.org]
    closed = not _is_open(ctx.snap, crisis)
    exp = base(ctx, actor, crisis, "crises:crisis:write", invalid=bool(unreadable) or closed)
    if exp is None:
        owner = actor.org == ctx.snap.objs[crisis].owner
        if owner:
            exp = allow("the owner links incidents it reads", invalid=bool(unreadable) or closed)
        elif actor.org in taking_part(ctx.snap, crisis):
            exp = (
                forbid("takes part, but links others' incidents", invalid=bool(unreadable) or closed)
                if foreign
                else allow("takes part and links its own incidents", invalid=bool(unreadable) or closed)
            )
        else:
            exp = forbid("neither the owner nor taking part", invalid=bool(unreadable) or closed)
    if page:
        req = Request("POST", f"/crises/{crisis}/incidents", form={"incidents": incidents})
    else:
        req = Request("POST", f"/api/v1/crises/{crisis}/incidents", json={"incidents": incidents})
    return Step("crisis.link" + (" (page)" if page else ""), req, cred, actor, exp, crisis)


def crisis_unlink(ctx: Ctx) -> Step | None:
    linked = [(c, i) for c in ctx.existing("crises") for i in ctx.in_order(ctx.snap.links.get(c, ()))]
    if not linked:
        return None
    crisis, incident = ctx.pick(linked)
    cred, actor = ctx.who([ctx.snap.objs[crisis].owner], roles=DECIDERS)
    readable = actor_reads(actor, ctx.snap.orgs[actor.org], ctx.snap.objs[incident])
    exp = _owner_perm(ctx, actor, crisis, "crises:crisis:write", invalid=not readable)
    return Step(
        "crisis.unlink", Request("DELETE", f"/api/v1/crises/{crisis}/incidents/{incident}"), cred, actor, exp, crisis
    )


def crisis_close_reopen(ctx: Ctx) -> Step | None:
    crisis = _crisis(ctx)
    if crisis is None:
        return None
    cred, actor = ctx.who([ctx.snap.objs[crisis].owner], roles=DECIDERS)
    close = ctx.flip()
    state_ok = _is_open(ctx.snap, crisis) == close and not (close and _pending(ctx.snap, crisis))
    exp = _owner_perm(ctx, actor, crisis, "crises:decision:write", invalid=not state_ok)
    verb = "close" if close else "reopen"
    return Step(
        f"crisis.{verb}",
        Request("POST", f"/api/v1/crises/{crisis}/{verb}", json={"rationale": "r"}),
        cred,
        actor,
        exp,
        crisis,
    )


def crisis_phase(ctx: Ctx) -> Step | None:
    crisis = _crisis(ctx)
    if crisis is None:
        return None
    level = LEVEL[ctx.snap.rows[crisis]["stage"]]
    page = ctx.flip()
    cred, actor = ctx.who(participants_at(ctx.snap, crisis, level), page=page, roles=DECIDERS)
    phase = ctx.pick(["preparedness", "detection", "response", "recovery"])
    invalid = not _is_open(ctx.snap, crisis) or phase == ctx.snap.rows[crisis]["phase"]
    exp = _crisis_act(
        ctx,
        actor,
        crisis,
        "crises:decision:write",
        deciders_at(ctx.snap, level),
        f"a deciding member at the {level} level",
        invalid=invalid,
    )
    path = f"/crises/{crisis}/phase" if page else f"/api/v1/crises/{crisis}/phase"
    body = {"phase": phase, "rationale": "r"}
    req = Request("POST", path, form=body) if page else Request("POST", path, json=body)
    return Step("crisis.phase" + (" (page)" if page else ""), req, cred, actor, exp, crisis)


def crisis_decision(ctx: Ctx) -> Step | None:
    crisis = _crisis(ctx)
    if crisis is None:
        return None
    level = ctx.pick(LEVELS)
    page = ctx.flip()
    cred, actor = ctx.who(participants_at(ctx.snap, crisis, level), page=page, roles=DECIDERS)
    exp = _crisis_act(
        ctx,
        actor,
        crisis,
        "crises:decision:write",
        deciders_at(ctx.snap, level),
        f"a deciding member at the {level} level",
        invalid=not _is_open(ctx.snap, crisis),
    )
    body = {"level": level, "kind": "response", "title": "Decided", "rationale": "r"}
    path = f"/crises/{crisis}/decisions" if page else f"/api/v1/crises/{crisis}/decisions"
    req = Request("POST", path, form=body) if page else Request("POST", path, json=body)
    return Step("crisis.decision" + (" (page)" if page else ""), req, cred, actor, exp, crisis)


# --- escalation ---------------------------------------------------------------------------------------------------


def required_for(ctx: Ctx, snap: Snap, crisis: str, target: str, proposer: str) -> set[str]:
    """Moving up: the approvers of every stage entered; down: the exit approvers of every stage left; and the
    originator when the target's community would join beyond what the proposer may widen the crisis to."""
    now = STAGES.index(snap.rows[crisis]["stage"])
    to = STAGES.index(target)
    passed = STAGES[now + 1 : to + 1] if to > now else STAGES[to + 1 : now + 1]
    required = {o for s in passed for o in approvers(ctx, s)}
    obj = snap.objs[crisis]
    community = COMMUNITY[target]
    joins = obj.tlp in ("clear", "green", "amber") and community not in obj.comms
    if joins and not may_add(snap.orgs, proposer, obj.owner, obj.tlp, ("community", community)):
        required.add(obj.owner)
    return required


def escalation_propose(ctx: Ctx) -> Step | None:
    snap = ctx.snap
    movable = [c for c in ctx.existing("crises") if _is_open(snap, c) and not _pending(snap, c)]
    # Often a recipient organisation that takes part and reads the crisis: its proposals are where widening goes
    # wrong (docs: the originator must agree when the step would bring a community in).
    pairs = [
        (c, o)
        for c in movable
        for o in ctx.in_order(participants_at(snap, c, LEVEL[snap.rows[c]["stage"]]))
        if o != snap.objs[c].owner and snap.org_reads(o, c)
    ]
    if pairs and ctx.flip():
        crisis, org = ctx.pick(pairs)
        prefer = {org}
    else:
        crisis = ctx.pick(movable) if movable and ctx.num(0, 4) else _crisis(ctx)
        if crisis is None:
            return None
        prefer = participants_at(snap, crisis, LEVEL[snap.rows[crisis]["stage"]])
    level = LEVEL[snap.rows[crisis]["stage"]]
    page = ctx.flip()
    cred, actor = ctx.who(prefer, page=page, roles=DECIDERS)
    elsewhere = [s for s in STAGES if s != snap.rows[crisis]["stage"]]
    target = ctx.pick(elsewhere if ctx.num(0, 5) else STAGES)
    required = required_for(ctx, snap, crisis, target, actor.org)
    unreadable = [o for o in required if not snap.org_reads(o, crisis)]
    invalid = (
        not _is_open(snap, crisis)
        or bool(_pending(snap, crisis))
        or target == snap.rows[crisis]["stage"]
        or bool(unreadable)
    )
    exp = _crisis_act(
        ctx,
        actor,
        crisis,
        "crises:decision:write",
        {snap.objs[crisis].owner} | deciders_at(snap, level),
        f"the owner or a deciding member at the current ({level}) level",
        invalid=invalid,
    )
    path = f"/crises/{crisis}/escalations" if page else f"/api/v1/crises/{crisis}/escalations"
    body = {"to": target, "rationale": "r"}

    def post(before: Snap, after: Snap, _r: Response) -> str | None:
        new = [
            e
            for e in after.objs
            if e not in before.objs
            and after.objs[e].table == "escalations"
            and after.rows[e]["crisis_id"] == crisis
            and after.rows[e]["from_stage"] == before.rows[crisis]["stage"]
        ]
        if not new:
            return None
        esc = after.rows[new[0]]
        if set(esc["required"]) != required:
            return f"required agreements {sorted(esc['required'])} != documented {sorted(required)}"
        if esc["state"] == "pending" and (
            after.objs[crisis].entries() != before.objs[crisis].entries()
            or after.objs[crisis].tlp != before.objs[crisis].tlp
        ):
            return "a proposal added readers to the crisis before anyone agreed"
        if (esc["state"] == "done") != (not (required - {actor.org})):
            return f"escalation state {esc['state']} but nobody else must agree is {not (required - {actor.org})}"
        return applied(ctx, before, after)

    req = Request("POST", path, form=body) if page else Request("POST", path, json=body)
    return Step("escalation.propose" + (" (page)" if page else ""), req, cred, actor, exp, crisis, post)


def applied(ctx: Ctx, before: Snap, after: Snap) -> str | None:
    """A step done: the target's community joins when the marking admits communities and the originator proposed
    or agreed, or the proposer may widen to it; otherwise it does not."""
    for e, row in after.rows.items():
        if after.objs[e].table != "escalations" or row["state"] != "done":
            continue
        if e in before.rows and before.rows[e]["state"] == "done":
            continue
        crisis = row["crisis_id"]
        obj, was = after.objs[crisis], before.objs.get(crisis)
        community = COMMUNITY[row["to_stage"]]
        proposer = after.users[row["created_by_id"]].org if row["created_by_id"] else None
        agreed = {o for o, v in after.answers.get(e, {}).items() if v == "agree"} | {proposer}
        ok = obj.tlp in ("clear", "green", "amber") and (
            obj.owner in agreed or may_add(after.orgs, proposer, obj.owner, obj.tlp, ("community", community))
        )
        already = was is not None and community in was.comms
        if ok and community not in obj.comms:
            return f"escalation {e} done but community {community} did not join {crisis}"
        if not ok and not already and community in obj.comms:
            return f"escalation {e} brought {community} into {crisis} without the originator's agreement"
    return None


def _escalation(ctx: Ctx) -> tuple[str, str] | None:
    escs = ctx.existing("escalations")
    pending = [e for e in escs if ctx.snap.rows[e]["state"] == "pending"]
    esc = ctx.pick(pending if pending and ctx.num(0, 4) else escs)
    return (ctx.snap.rows[esc]["crisis_id"], esc) if esc else None


def escalation_answer(ctx: Ctx) -> Step | None:
    found = _escalation(ctx)
    if found is None:
        return None
    crisis, esc = found
    row = ctx.snap.rows[esc]
    page = ctx.flip()
    cred, actor = ctx.who(row["required"], page=page, roles=DECIDERS)
    agree = ctx.num(0, 2) != 0
    answered = actor.org in ctx.snap.answers.get(esc, {})
    invalid = row["state"] != "pending" or answered
    exp = base(ctx, actor, [crisis, esc], "crises:escalation:approve", invalid=invalid)
    if exp is None:
        exp = (
            allow("must agree to this step", invalid=invalid)
            if actor.org in row["required"]
            else forbid("not among those that must agree", invalid=invalid)
        )
    if page:
        req = Request(
            "POST",
            f"/crises/{crisis}/escalations/{esc}/answer",
            form={"verdict": "agree" if agree else "reject", "comment": "c"},
        )
    else:
        req = Request(
            "POST",
            f"/api/v1/crises/{crisis}/escalations/{esc}/{'approve' if agree else 'reject'}",
            json={"comment": "c"},
        )
    return Step(
        "escalation." + ("agree" if agree else "reject") + (" (page)" if page else ""),
        req,
        cred,
        actor,
        exp,
        esc,
        lambda b, a, _r: applied(ctx, b, a),
    )


def escalation_withdraw(ctx: Ctx) -> Step | None:
    found = _escalation(ctx)
    if found is None:
        return None
    crisis, esc = found
    row = ctx.snap.rows[esc]
    proposer = ctx.snap.users[row["created_by_id"]].org if row["created_by_id"] else None
    page = ctx.flip()
    cred, actor = ctx.who([ctx.snap.objs[crisis].owner, proposer], page=page, roles=DECIDERS)
    exp = base(ctx, actor, esc, "crises:decision:write", invalid=row["state"] != "pending")
    if exp is None:
        exp = _crisis_act(
            ctx,
            actor,
            crisis,
            "crises:decision:write",
            {ctx.snap.objs[crisis].owner, proposer or ""},
            "the owner or the proposer's organisation",
            invalid=row["state"] != "pending",
        )
    path = f"/crises/{crisis}/escalations/{esc}/withdraw"
    req = Request("POST", path, form={}) if page else Request("POST", "/api/v1" + path)
    return Step("escalation.withdraw" + (" (page)" if page else ""), req, cred, actor, exp, esc)


# --- actions ------------------------------------------------------------------------------------------------------


def action_create(ctx: Ctx) -> Step | None:
    crisis = _crisis(ctx)
    if crisis is None:
        return None
    page = ctx.flip()
    cred, actor = ctx.who(taking_part(ctx.snap, crisis), page=page)
    readers = [o for o in ctx.org_ids() if ctx.snap.org_reads(o, crisis)]
    assignee = ctx.pick(readers if readers and ctx.num(0, 4) else ctx.org_ids())
    invalid = not _is_open(ctx.snap, crisis) or not ctx.snap.org_reads(assignee, crisis)
    exp = _crisis_act(
        ctx,
        actor,
        crisis,
        "crises:action:write",
        taking_part(ctx.snap, crisis),
        "the owner or taking part in the crisis",
        invalid=invalid,
    )
    body: dict[str, Any] = {"title": "Do it", "assignee": assignee, "due_at": NOW.isoformat()}
    if page:
        req = Request("POST", f"/crises/{crisis}/actions", form={**body, "due_at": NOW.strftime("%Y-%m-%dT%H:%M")})
    else:
        req = Request("POST", f"/api/v1/crises/{crisis}/actions", json=body)
    return Step("action.create" + (" (page)" if page else ""), req, cred, actor, exp, crisis)


def action_update(ctx: Ctx) -> Step | None:
    """The owner organisation of the action (its assignee) or the crisis owner; reassigning: the crisis owner."""
    action = ctx.pick(ctx.existing("actions"))
    if action is None:
        return None
    row = ctx.snap.rows[action]
    crisis = row["crisis_id"]
    page = ctx.flip()
    cred, actor = ctx.who([ctx.snap.objs[crisis].owner, row["assignee_org_id"]], page=page, roles=DECIDERS)
    readers = [o for o in ctx.org_ids() if ctx.snap.org_reads(o, crisis)]
    reassign = None if page or ctx.flip() else ctx.pick(readers or ctx.org_ids())
    status = ctx.pick(["in-progress", "done", "cancelled", "open"])
    exp = base(ctx, actor, [crisis, action], "crises:action:write")
    if exp is None:
        owner = actor.org == ctx.snap.objs[crisis].owner
        if not owner and actor.org != row["assignee_org_id"]:
            exp = forbid("neither the crisis owner nor the assignee")
        elif reassign is not None and reassign != row["assignee_org_id"]:
            # docs: "reassign an action | crises:action:write | the organisation that opened the crisis"
            invalid = not ctx.snap.org_reads(reassign, crisis)
            if not owner:
                exp = forbid("only the crisis owner reassigns", invalid=invalid)
            else:
                exp = allow("the crisis owner reassigns", invalid=invalid)
        else:
            exp = allow("the crisis owner or the assignee updates")
    body: dict[str, Any] = {"version": row["version"], "status": status}
    if reassign is not None:
        body["assignee"] = reassign
    if page:
        req = Request("POST", f"/crises/{crisis}/actions/{action}/status", form=body)
    else:
        req = Request("PATCH", f"/api/v1/actions/{action}", json=body)
    return Step("action.update" + (" (page)" if page else ""), req, cred, actor, exp, action)
