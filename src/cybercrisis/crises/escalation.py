"""The deployment's escalation model: ordered stages, who must agree to enter or leave each, who is told (ADR 0007).

It is data, not code: `escalation_model.json` beside this file, or the file named by CYBERCRISIS_ESCALATION_MODEL.
Organisations are named by directory key (`council-presidency`) or identity id; keys become the deterministic ids
the directory gives them, so the same file works on every node.

Besides `approvers` (all must agree), a stage may name `activated_by_any` (one of them activates it: IPCR
information-sharing mode, Council Implementing Decision (EU) 2018/1993) and `consult` (parties consulted, and the
consultation recorded, before an agreement counts; `affected-member-states` stands for the Member States of the
crisis's incidents). `commission` names the organisation whose role in a community the crisis records (NIS2
Art. 16(2)). The file is read and validated at start-up (app.py), so a broken model stops the server, not a request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from cybercrisis.config import Settings
from cybercrisis.directory.models import Level
from cybercrisis.errors import InvalidInput

DEFAULT_MODEL = Path(__file__).with_name("escalation_model.json")


class StageIn(BaseModel):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    label: str = Field(min_length=1, max_length=200)
    level: Level
    community: str | None = None
    approvers: list[str] = Field(default_factory=list)
    exit_approvers: list[str] | None = None
    notify: list[str] = Field(default_factory=list)
    activated_by_any: list[str] = Field(default_factory=list)
    consult: list[str] = Field(default_factory=list)
    basis: str = Field(default="", max_length=500, description="where the stage's rule comes from, or the deployment")
    composition: str = Field(
        default="",
        max_length=120,
        description="short citation of who the community's members "
        "are, shown when someone is refused a decision, e.g. 'NIS2 Art. 16(2)'",
    )


class CommissionIn(BaseModel):
    organisation: str = Field(min_length=1)
    community: str = Field(min_length=1)
    basis: str = Field(min_length=1, max_length=200)


class ModelIn(BaseModel):
    note: str = ""
    stages: list[StageIn] = Field(min_length=1)
    commission: CommissionIn | None = None

    @field_validator("stages")
    @classmethod
    def _unique(cls, stages: list[StageIn]) -> list[StageIn]:
        keys = [s.key for s in stages]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"stage keys must be unique: {', '.join(dupes)}")
        return stages

    @model_validator(mode="after")
    def _levels_in_order(self) -> ModelIn:
        order = list(Level)
        ranks = [order.index(s.level) for s in self.stages]
        if ranks != sorted(ranks):
            raise ValueError("stages must go from technical to operational to political, in escalation order")
        return self


AFFECTED_MEMBER_STATES = "affected-member-states"


def _org(ref: str) -> str:
    # Imported here: directory.exchange pulls in the sharing and audit modules, whose import order is delicate.
    from cybercrisis.directory.exchange import org_id_for_key

    return ref if ref.startswith("identity--") else org_id_for_key(ref)


def _party(ref: str) -> str:
    return ref if ref == AFFECTED_MEMBER_STATES else _org(ref)


@dataclass(frozen=True, slots=True)
class Stage:
    key: str
    label: str
    level: str
    community: str | None
    approvers: tuple[str, ...]  # organisation ids that must agree to enter this stage
    exit_approvers: tuple[str, ...]  # ... and to leave it downwards
    notify: tuple[str, ...]  # community slugs told when the crisis enters this stage
    rank: int
    activated_by_any: tuple[str, ...] = ()  # organisation ids of which one's agreement enters this stage
    consult: tuple[str, ...] = ()  # organisation ids (or AFFECTED_MEMBER_STATES) consulted before agreeing
    basis: str = ""
    composition: str = ""


@dataclass(frozen=True, slots=True)
class CommissionSwitch:
    """The organisation whose role in `community` each crisis records: member or observer (NIS2 Art. 16(2))."""

    org_id: str
    community: str
    basis: str


@dataclass(frozen=True, slots=True)
class EscalationModel:
    note: str
    stages: tuple[Stage, ...]
    commission: CommissionSwitch | None = None

    def stage(self, key: str) -> Stage:
        for s in self.stages:
            if s.key == key:
                return s
        raise KeyError(key)

    def find(self, ref: str) -> Stage:
        """A stage by key, by community slug, or by level (its first stage), as a request's `to` may say."""
        for s in self.stages:
            if s.key == ref:
                return s
        for s in self.stages:
            if ref in (s.community, s.level):
                return s
        valid = ", ".join(s.key for s in self.stages)
        raise InvalidInput(
            f"'{ref}' is not a stage, level or mechanism of this deployment's escalation model; valid: {valid}",
            errors=[{"field": "to", "message": f"unknown stage '{ref}'", "valid": [s.key for s in self.stages]}],
        )

    def required_for(self, current: Stage, target: Stage) -> tuple[str, ...]:
        """Who must agree to move from `current` to `target`: entering each stage going up, leaving each going down."""
        if target.rank > current.rank:
            path = self.stages[current.rank + 1 : target.rank + 1]
            needed = [o for s in path for o in s.approvers]
        else:
            path = self.stages[target.rank + 1 : current.rank + 1]
            needed = [o for s in path for o in s.exit_approvers]
        return tuple(dict.fromkeys(needed))

    def _path(self, current: Stage, target: Stage) -> tuple[Stage, ...]:
        if target.rank > current.rank:
            return self.stages[current.rank + 1 : target.rank + 1]
        return ()  # leaving a stage downwards needs its exit approvers only

    def any_of_for(self, current: Stage, target: Stage) -> tuple[str, ...]:
        """Organisations of which one must agree to move up into `target` (empty: nobody in particular)."""
        return tuple(dict.fromkeys(o for s in self._path(current, target) for o in s.activated_by_any))

    def consult_for(self, current: Stage, target: Stage) -> tuple[str, ...]:
        """The parties to consult before an agreement to move up into `target` counts."""
        return tuple(dict.fromkeys(p for s in self._path(current, target) for p in s.consult))


def parse(text: str, *, source: str = "escalation model") -> EscalationModel:
    try:
        raw = ModelIn.model_validate(json.loads(text))
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'model'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{source} is not a valid escalation model: {reasons}") from None
    except ValueError as exc:
        raise ValueError(f"{source} is not valid JSON: {exc}") from None
    stages = tuple(
        Stage(
            key=s.key,
            label=s.label,
            level=s.level.value,
            community=s.community,
            approvers=tuple(_org(o) for o in s.approvers),
            exit_approvers=tuple(_org(o) for o in (s.approvers if s.exit_approvers is None else s.exit_approvers)),
            notify=tuple(s.notify),
            rank=n,
            activated_by_any=tuple(_org(o) for o in s.activated_by_any),
            consult=tuple(_party(p) for p in s.consult),
            basis=s.basis,
            composition=s.composition,
        )
        for n, s in enumerate(raw.stages)
    )
    slugs = {s.community for s in stages if s.community}
    commission = None
    if raw.commission is not None:
        if raw.commission.community not in slugs:
            raise ValueError(
                f"{source} is not a valid escalation model: commission.community "
                f"'{raw.commission.community}' is not the community of any stage"
            )
        commission = CommissionSwitch(
            org_id=_org(raw.commission.organisation), community=raw.commission.community, basis=raw.commission.basis
        )
    return EscalationModel(note=raw.note, stages=stages, commission=commission)


@lru_cache(maxsize=8)
def _load(path: Path) -> EscalationModel:
    return parse(path.read_text(encoding="utf-8"), source=str(path))


def model_for(settings: Settings) -> EscalationModel:
    return _load((settings.escalation_model or DEFAULT_MODEL).resolve())
