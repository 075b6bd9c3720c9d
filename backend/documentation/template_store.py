"""The note template in force for a modality: the tenant admin's stored one, else the built-in one.

A record copies its template when it is opened (`SessionRecord.template`), so changing or resetting
a template here affects only records opened afterwards.
"""

from __future__ import annotations

import dataclasses
import uuid

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.database import utcnow
from backend.documentation.default_templates import DEFAULT_TEMPLATES
from backend.documentation.models import StoredTemplate
from backend.documentation.templates import (
    NoteTemplate,
    template_as_json,
    template_from_json,
    template_problems,
)
from backend.errors import FieldProblem, InputRejected
from backend.programs.models import Modality

MODALITIES = frozenset(m.value for m in Modality)


def default_template(modality: str) -> NoteTemplate:
    """The built-in template of `modality` ("other" for a modality without one)."""
    return DEFAULT_TEMPLATES.get(modality) or DEFAULT_TEMPLATES[Modality.OTHER.value]


async def stored_template(session: AsyncSession, modality: str) -> NoteTemplate | None:
    """The tenant admin's template for `modality`, None while the built-in one applies."""
    row = await session.get(StoredTemplate, modality)
    return None if row is None else template_from_json(row.template)


async def stored_templates(session: AsyncSession) -> dict[str, NoteTemplate]:
    """Every template the tenant admin stored, by modality."""
    rows = await session.scalars(select(StoredTemplate))
    return {row.modality: template_from_json(row.template) for row in rows}


async def template_for(session: AsyncSession, modality: str) -> NoteTemplate:
    """The template a new record of `modality` is documented with."""
    return await stored_template(session, modality) or default_template(modality)


async def set_template(
    session: AsyncSession, modality: str, template: NoteTemplate, user_id: uuid.UUID | None
) -> NoteTemplate:
    """Store the admin's template for `modality` (replacing any), or raise InputRejected naming the field.

    The `modality` argument decides which modality the template is for; the template's own is set to it.
    """
    if modality not in MODALITIES:
        raise InputRejected([FieldProblem("modality", "unknown_modality", "is not a group modality")])
    template = dataclasses.replace(template, modality=modality)
    if problems := template_problems(template):
        raise InputRejected(problems)
    values = {"template": template_as_json(template), "updated_by": user_id, "updated_at": utcnow()}
    await session.execute(
        insert(StoredTemplate)
        .values(modality=modality, **values)
        .on_conflict_do_update(index_elements=[StoredTemplate.modality], set_=values)
    )
    return template


async def reset_template(session: AsyncSession, modality: str) -> NoteTemplate:
    """Drop the admin's template: new records of `modality` use the built-in one again."""
    await session.execute(delete(StoredTemplate).where(StoredTemplate.modality == modality))
    return default_template(modality)
