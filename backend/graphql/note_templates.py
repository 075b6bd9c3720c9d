"""Note templates through GraphQL: the one in force per modality, and the tenant admin's edits.

`setNoteTemplate` stores the admin's template for a modality (checked by `template_problems`, errors
named like `template.sections[1].fields[0].choices`); `resetNoteTemplate` returns to the built-in one.
Records already opened keep the template they were opened with.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from backend.documentation.template_store import (
    default_template,
    reset_template,
    set_template,
    stored_template,
    stored_templates,
)
from backend.documentation.templates import (
    FieldKind,
    NoteTemplate,
    Scope,
    TemplateField,
    TemplateSection,
)
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.errors import InvalidInput
from backend.graphql.programs import ModalityEnum
from backend.graphql.transactions import Atomic
from backend.programs.models import Modality

NoteScopeEnum = strawberry.enum(Scope, name="NoteScope")
NoteFieldKindEnum = strawberry.enum(FieldKind, name="NoteFieldKind")


@strawberry.type(name="NoteTemplateField")
class NoteTemplateFieldType:
    key: str = strawberry.field(description="The key the field's value is stored under in note content")
    label: str
    kind: NoteFieldKindEnum  # type: ignore[valid-type]
    required: bool = strawberry.field(description="Must be filled in before signing (drafts may omit it)")
    prompt: str | None
    choices: list[str] = strawberry.field(description="The allowed values of a CHOICE field")


@strawberry.type(name="NoteTemplateSection")
class NoteTemplateSectionType:
    key: str
    label: str
    scope: NoteScopeEnum = strawberry.field(  # type: ignore[valid-type]
        description="GROUP: the shared group note; MEMBER: each present member; ABSENCE: each absent member"
    )
    fields: list[NoteTemplateFieldType]


@strawberry.type(name="NoteTemplate")
class NoteTemplateType:
    modality: ModalityEnum  # type: ignore[valid-type]
    name: str
    is_default: bool = strawberry.field(description="True while the built-in template applies")
    sections: list[NoteTemplateSectionType]

    @classmethod
    def of(cls, template: NoteTemplate, modality: Modality, is_default: bool) -> NoteTemplateType:
        return cls(
            modality=modality,
            name=template.name,
            is_default=is_default,
            sections=[
                NoteTemplateSectionType(
                    key=s.key,
                    label=s.label,
                    scope=s.scope,
                    fields=[
                        NoteTemplateFieldType(
                            key=f.key,
                            label=f.label,
                            kind=f.kind,
                            required=f.required,
                            prompt=f.prompt,
                            choices=list(f.choices),
                        )
                        for f in s.fields
                    ],
                )
                for s in template.sections
            ],
        )


@strawberry.input
class NoteTemplateFieldInput:
    key: str = strawberry.field(description="snake_case, unique within its scope")
    label: str
    kind: NoteFieldKindEnum  # type: ignore[valid-type]
    required: bool = False
    prompt: str | None = None
    choices: list[str] = strawberry.field(default_factory=list, description="CHOICE fields only")

    def to_field(self) -> TemplateField:
        return TemplateField(
            self.key, self.label, FieldKind(self.kind), self.required, self.prompt, tuple(self.choices)
        )


@strawberry.input
class NoteTemplateSectionInput:
    key: str
    label: str
    scope: NoteScopeEnum  # type: ignore[valid-type]
    fields: list[NoteTemplateFieldInput]

    def to_section(self) -> TemplateSection:
        fields = tuple(f.to_field() for f in self.fields)
        return TemplateSection(self.key, self.label, Scope(self.scope), fields)


@strawberry.input
class NoteTemplateInput:
    """A whole template: every member section keeps a required GOAL_PROGRESS and a required RISK field."""

    name: str
    sections: list[NoteTemplateSectionInput]

    def to_template(self, modality: Modality) -> NoteTemplate:
        return NoteTemplate(modality.value, self.name, tuple(s.to_section() for s in self.sections))


@strawberry.type
class NoteTemplateResult:
    template: NoteTemplateType


NoteTemplateChange = Annotated[NoteTemplateResult | InvalidInput, strawberry.union("NoteTemplateChange")]


@strawberry.type
class NoteTemplateQueries:
    @strawberry.field(permission_classes=[allow("note_template", "read")])
    async def note_template(
        self,
        info: strawberry.Info[Context, Any],
        modality: ModalityEnum,  # type: ignore[valid-type]
    ) -> NoteTemplateType:
        """The template new records of this modality are documented with."""
        modality = Modality(modality)
        stored = await stored_template(info.context.session, modality.value)
        if stored is None:
            return NoteTemplateType.of(default_template(modality.value), modality, True)
        return NoteTemplateType.of(stored, modality, False)

    @strawberry.field(permission_classes=[allow("note_template", "read")])
    async def note_templates(self, info: strawberry.Info[Context, Any]) -> list[NoteTemplateType]:
        """The template in force for every modality, in the order modalities are declared."""
        stored = await stored_templates(info.context.session)
        return [
            NoteTemplateType.of(stored[m.value], m, False)
            if m.value in stored
            else NoteTemplateType.of(default_template(m.value), m, True)
            for m in Modality
        ]


@strawberry.type
class NoteTemplateMutations:
    @strawberry.mutation(permission_classes=[allow("note_template", "manage")], extensions=[Atomic()])
    async def set_note_template(
        self,
        info: strawberry.Info[Context, Any],
        modality: ModalityEnum,  # type: ignore[valid-type]
        template: NoteTemplateInput,
    ) -> NoteTemplateChange:
        """Replace the modality's template for records opened from now on."""
        modality = Modality(modality)
        principal = info.context.require_principal()
        saved = await set_template(
            info.context.session, modality.value, template.to_template(modality), principal.user_id
        )
        return NoteTemplateResult(template=NoteTemplateType.of(saved, modality, False))

    @strawberry.mutation(permission_classes=[allow("note_template", "manage")], extensions=[Atomic()])
    async def reset_note_template(
        self,
        info: strawberry.Info[Context, Any],
        modality: ModalityEnum,  # type: ignore[valid-type]
    ) -> NoteTemplateChange:
        """Go back to the built-in template for records opened from now on."""
        modality = Modality(modality)
        built_in = await reset_template(info.context.session, modality.value)
        return NoteTemplateResult(template=NoteTemplateType.of(built_in, modality, True))
