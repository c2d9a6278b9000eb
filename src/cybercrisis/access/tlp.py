"""TLP 2.0 labels (FIRST) and PAP. TLP:WHITE is TLP 1.0 and is rejected, with a pointer to CLEAR."""

from __future__ import annotations

from enum import StrEnum


class TLP(StrEnum):
    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"

    @property
    def label(self) -> str:
        return "TLP:" + self.value.upper()

    @property
    def rank(self) -> int:
        """Wider is lower: CLEAR 0 ... RED 4."""
        return _ORDER.index(self)

    @classmethod
    def parse(cls, value: str) -> TLP:
        key = value.strip().lower().removeprefix("tlp:").replace("_", "+").replace(" ", "")
        if key in ("amberstrict", "amber-strict"):
            key = "amber+strict"
        try:
            return cls(key)
        except ValueError:
            hint = " (TLP:WHITE is TLP 1.0; TLP 2.0 calls it CLEAR)" if key == "white" else ""
            valid = ", ".join(t.value for t in cls)
            raise ValueError(f"'{value}' is not a TLP 2.0 label{hint}; valid: {valid}") from None


_ORDER = [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED]

# STIX 2.1 marking-definition ids for TLP 2.0 (fixed by the OASIS CTI TC).
STIX_MARKING_IDS: dict[TLP, str] = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
