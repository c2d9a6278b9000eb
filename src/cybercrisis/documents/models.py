from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cybercrisis.access.models import Shareable
from cybercrisis.db import Base


class DocumentKind(StrEnum):
    SOP = "sop"
    CRISIS_PLAN = "crisis-plan"
    CONTACT_SHEET = "contact-sheet"
    OTHER = "other"


class Document(Shareable, Base):
    __tablename__ = "documents"

    title: Mapped[str] = mapped_column(String(300), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False, default=DocumentKind.OTHER.value)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
