"""The demo's documents: SOPs, a crisis plan extract, a contact sheet, public guidance."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cybercrisis.access.schemas import ShareWith
from cybercrisis.demo.users import as_user
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.documents import service as documents


def load_documents(session: Session) -> None:
    fr = as_user(session, "analyst@cert-fr.example")
    de = as_user(session, "analyst@cert-bund.example")
    documents.create_document(
        session,
        actor=fr,
        kind="sop",
        tlp="green",
        share_with=ShareWith(),
        title="CERT-FR: SOP for cross-border incident notification",
        body="1. Check whether the notified incident is significant (NIS2 Art. 23(3)).\n2. Answer the entity's early "
        "warning without undue delay and where possible within 24 h of receiving it, with initial feedback and, on "
        "request, guidance (NIS2 Art. 23(5)); the early warning itself is the entity's (Art. 23(4)(a)).\n"
        "3. Inform the CSIRTs Network where a cross-border impact is possible.\n4. Record every step here.",
    )
    documents.create_document(
        session,
        actor=fr,
        kind="crisis-plan",
        tlp="amber+strict",
        share_with=ShareWith(organisations=[org_id_for_key("fr-crisis")]),
        title="National cyber crisis plan: activation thresholds (extract)",
        body="Extract of the national plan shared with the national crisis authority only.",
    )
    documents.create_document(
        session,
        actor=de,
        kind="contact-sheet",
        tlp="red",
        share_with=ShareWith(users=["analyst@cert-fr.example"]),
        title="Bilateral out-of-band contact sheet DE-FR",
        body="Out-of-band channel for the duty analysts of CERT-Bund and CERT-FR.",
    )
    documents.create_document(
        session,
        actor=de,
        kind="sop",
        tlp="clear",
        share_with=ShareWith(),
        title="Public guidance: reporting a cyber incident",
        body="Essential and important entities report significant incidents to their national CSIRT.",
    )
