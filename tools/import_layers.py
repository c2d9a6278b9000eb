"""An import-linter contract whose layers are sets of modules named by patterns, not packages (ADR 0011).

Our layers cut across packages: `incidents/service.py` is a domain module and `incidents/views.py`, beside it, a
page. import-linter's own layers contract takes whole packages, and its wildcards match whole name segments only, so
`views_*` cannot be said. Here every module of the root package is placed in a layer by the first `placement` whose
shell-style pattern (`fnmatch`, where `*` also matches dots) matches its name, and a module may import modules of its
own layer and of the layers below it, never above. Since every module is placed, checking each direct import is
enough: a chain of allowed imports only ever goes down. Function-level imports count, as grimp reports them.

    [[tool.importlinter.contracts]]
    type = "pattern_layers"
    layers = ["top", "middle", "bottom"]              # highest first
    placement = ["bottom: pkg.db pkg.*.models", "top: pkg.cli pkg.cli.*", "middle: pkg.*"]
    ignore_imports = ["pkg.db -> pkg.cli"]           # each a deliberate exception, with its reason beside it
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


class PatternLayersContract(Contract):
    type_name = "pattern_layers"

    layers = fields.ListField(subfield=fields.StringField())
    placement = fields.ListField(subfield=fields.StringField())
    ignore_imports = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        # The fields hold the parsed options once the contract is built (import-linter's Contract.__init__).
        names: list[str] = self.layers  # type: ignore[assignment]
        placement: list[str] = self.placement  # type: ignore[assignment]
        ignore: list[str] = self.ignore_imports or []  # type: ignore[assignment]
        rank = {name: len(names) - i for i, name in enumerate(names)}
        rules: list[tuple[str, list[str]]] = []
        for line in placement:
            layer, _, patterns = line.partition(":")
            if layer.strip() not in rank:
                raise ValueError(f"placement {line!r} names no layer of {names}")
            rules.append((layer.strip(), patterns.split()))
        ignored = {tuple(part.strip() for part in i.split("->")) for i in ignore}

        def place(module: str) -> str | None:
            return next((layer for layer, pats in rules if any(fnmatchcase(module, p) for p in pats)), None)

        layer_of = {m: place(m) for m in graph.modules}
        unplaced = sorted(m for m, layer in layer_of.items() if layer is None)
        violations: list[dict[str, Any]] = []
        used: set[tuple[str, ...]] = set()
        for importer in sorted(graph.modules):
            low = layer_of[importer]
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                high = layer_of.get(imported)
                if low is None or high is None or rank[high] <= rank[low]:
                    continue
                if (importer, imported) in ignored:
                    used.add((importer, imported))
                    continue
                lines = [
                    f"l.{d['line_number']} {d['line_contents']}"
                    for d in graph.get_import_details(importer=importer, imported=imported)
                ]
                violations.append({"importer": importer, "low": low, "imported": imported, "high": high, "at": lines})
        stale = sorted(" -> ".join(i) for i in ignored - used)
        return ContractCheck(
            kept=not (violations or unplaced or stale),
            metadata={"violations": violations, "unplaced": unplaced, "stale": stale},
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for v in check.metadata["violations"]:
            output.print_error(f"- {v['importer']} ({v['low']}) imports {v['imported']} ({v['high']}), above it:")
            for at in v["at"]:
                output.print_error(f"    {at}", bold=False)
        for module in check.metadata["unplaced"]:
            output.print_error(f"{module} is in no layer: add it to a placement")
        for expression in check.metadata["stale"]:
            output.print_error(f"ignore_imports {expression!r} matches no import that breaks a layer: remove it")
