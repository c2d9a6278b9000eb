"""The words of the hand-off pages: states, custody actions, events, the notes after a form."""

from __future__ import annotations

from cybercrisis.handoffs import checks, custody, service
from cybercrisis.handoffs.models import HandoffState

STATE_LABELS = {
    HandoffState.HANDED_OVER.value: "Handed over: awaiting receipt",
    HandoffState.RECEIVED.value: "Received",
    HandoffState.CLOSED.value: "Closed",
}
ACTION_LABELS = {
    custody.HANDED_OVER: "Handed over",
    custody.RECEIVED: "Receipt acknowledged",
    custody.TRANSFERRED: "Transferred",
    custody.NOTE: "Note",
}
EVENT_LABELS = {
    service.TAG_CREATE: "Handed over",
    custody.TAG_FILE: "Evidence file added",
    custody.TAG_RECEIVE: "Receipt acknowledged",
    custody.TAG_TRANSFER: "Transferred",
    custody.TAG_NOTE: "Note added to the chain of custody",
}
# Shown after a successful form, from `?done=`: fixed texts, never anything taken from the address.
DONE_NOTES = {
    "created": "The evidence package was handed over and the recipient was told. Add files until it acknowledges "
    "receipt.",
    "file": "The file was stored under its SHA-256, and the chain of custody records it.",
    "received": "Receipt is acknowledged: the package is sealed, no more files can be added.",
    "transferred": "The package was transferred; the new holder was told and must acknowledge receipt.",
    "note": "The note is in the chain of custody.",
}
# What each form on the hand-off page is, for the message at the top of the page when it was refused.
FORM_TITLES = {
    "file": ("The file was not added", "file-form"),
    "receive": ("Receipt was not acknowledged", "receive-form"),
    "transfer": ("The package was not transferred", "transfer-form"),
    "note": ("The note was not added", "note-form"),
}
MARKINGS = [(t.value, t.label) for t in checks.MARKINGS]
