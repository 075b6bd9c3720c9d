"""Program intake through GraphQL: the form, a client's answers, baseline-measure tasks.

The member's intake is exposed as root fields (`clientIntake`, `intakeTasks`) rather than a field
on `Client`, whose module belongs to client records; both are audited reads of member information.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from backend.clients.models import Client
from backend.errors import FieldProblem
from backend.graphql.access import allow
from backend.graphql.context import Context
from backend.graphql.errors import BadRequest, InvalidInput, NotFound
from backend.graphql.relay import parse_id
from backend.graphql.transactions import Atomic
from backend.intake.models import IntakeForm, IntakeResponse, IntakeTask
from backend.intake.rules import IntakeQuestion, QuestionKind, TaskStatus
from backend.intake.store import form_for, responses_for, set_form, submit_intake, tasks_for
from backend.programs.models import Program

QuestionKindType = strawberry.enum(QuestionKind, name="IntakeQuestionKind")
TaskStatusType = strawberry.enum(TaskStatus, name="IntakeTaskStatus")


@strawberry.input
class IntakeQuestionInput:
    key: str = strawberry.field(description="snake_case; also the contraindication code it records")
    prompt: str
    kind: QuestionKindType  # type: ignore[valid-type]
    required: bool = False
    choices: list[str] = strawberry.field(default_factory=list)
    contraindication_if: str | None = strawberry.field(
        default=None, description='boolean "true"/"false"; the choice or text; number ">= 20"'
    )

    def to_question(self) -> IntakeQuestion:
        return IntakeQuestion(
            key=self.key,
            prompt=self.prompt,
            kind=QuestionKind(self.kind),
            required=self.required,
            choices=tuple(self.choices),
            contraindication_if=self.contraindication_if,
        )


@strawberry.input
class IntakeAnswerInput:
    key: str
    value: str = strawberry.field(description='as text: "true", "12", a choice, free text')


@strawberry.input
class SubmitIntakeInput:
    program_id: strawberry.ID
    client_id: strawberry.ID
    answers: list[IntakeAnswerInput]


@strawberry.type(name="IntakeQuestion")
class IntakeQuestionType:
    key: str
    prompt: str
    kind: QuestionKindType  # type: ignore[valid-type]
    required: bool
    choices: list[str]
    contraindication_if: str | None


@strawberry.type(name="IntakeForm")
class IntakeFormType:
    program_id: strawberry.ID
    questions: list[IntakeQuestionType]
    baseline_measures: list[str]
    updated_at: datetime

    @classmethod
    def of(cls, form: IntakeForm) -> IntakeFormType:
        questions = [IntakeQuestion.from_json(q) for q in form.questions]
        return cls(
            program_id=strawberry.ID(str(form.program_id)),
            questions=[
                IntakeQuestionType(
                    key=q.key,
                    prompt=q.prompt,
                    kind=q.kind,
                    required=q.required,
                    choices=list(q.choices),
                    contraindication_if=q.contraindication_if,
                )
                for q in questions
            ],
            baseline_measures=list(form.baseline_measures),
            updated_at=form.updated_at,
        )


@strawberry.type(name="IntakeResponse")
class IntakeResponseType:
    id: strawberry.ID
    program_id: strawberry.ID
    client_id: strawberry.ID
    answers: JSON
    contraindications: list[str]
    submitted_at: datetime

    @classmethod
    def of(cls, response: IntakeResponse) -> IntakeResponseType:
        return cls(
            id=strawberry.ID(str(response.id)),
            program_id=strawberry.ID(str(response.program_id)),
            client_id=strawberry.ID(str(response.client_id)),
            answers=cast(JSON, dict(response.answers)),
            contraindications=list(response.contraindications),
            submitted_at=response.submitted_at,
        )


@strawberry.type(name="IntakeTask")
class IntakeTaskType:
    id: strawberry.ID
    program_id: strawberry.ID
    client_id: strawberry.ID
    instrument_code: str
    due_before: datetime | None = strawberry.field(description="the program's next session when created")
    status: TaskStatusType  # type: ignore[valid-type]

    @classmethod
    def of(cls, task: IntakeTask) -> IntakeTaskType:
        return cls(
            id=strawberry.ID(str(task.id)),
            program_id=strawberry.ID(str(task.program_id)),
            client_id=strawberry.ID(str(task.client_id)),
            instrument_code=task.instrument_code,
            due_before=task.due_before,
            status=task.status,
        )


@strawberry.type
class ClientIntake:
    responses: list[IntakeResponseType]
    pending_tasks: list[IntakeTaskType]


@strawberry.type
class IntakeSubmitted:
    response: IntakeResponseType
    pending_tasks: list[IntakeTaskType]


SetIntakeFormResult = Annotated[
    IntakeFormType | InvalidInput | NotFound, strawberry.union("SetIntakeFormResult")
]
SubmitIntakeResult = Annotated[
    IntakeSubmitted | InvalidInput | NotFound, strawberry.union("SubmitIntakeResult")
]


async def _client_id(context: Context, raw: str) -> uuid.UUID:
    client_id = parse_id(raw, "clientId", in_input=False)
    if await context.session.get(Client, client_id) is None:
        raise BadRequest("clientId", "does not name a client in this clinic")
    return client_id


@strawberry.type
class IntakeQueries:
    @strawberry.field(permission_classes=[allow("intake_form", "read")])
    async def intake_form(
        self, info: strawberry.Info[Context, Any], program_id: strawberry.ID
    ) -> IntakeFormType | None:
        form = await form_for(info.context.session, parse_id(program_id, "programId", in_input=False))
        return IntakeFormType.of(form) if form is not None else None

    @strawberry.field(permission_classes=[allow("intake", "read")])
    async def client_intake(
        self, info: strawberry.Info[Context, Any], client_id: strawberry.ID
    ) -> ClientIntake:
        """Every intake the client submitted (newest first) and their pending baseline measures."""
        session = info.context.session
        member = await _client_id(info.context, client_id)
        responses = await responses_for(session, member)
        tasks = await tasks_for(session, member, status=TaskStatus.PENDING)
        info.context.audit("read", "client_intake", str(member), member)
        return ClientIntake(
            responses=[IntakeResponseType.of(r) for r in responses],
            pending_tasks=[IntakeTaskType.of(t) for t in tasks],
        )

    @strawberry.field(permission_classes=[allow("intake", "read")])
    async def intake_tasks(
        self,
        info: strawberry.Info[Context, Any],
        client_id: strawberry.ID,
        status: TaskStatusType | None = TaskStatus.PENDING,  # type: ignore[valid-type]
    ) -> list[IntakeTaskType]:
        member = await _client_id(info.context, client_id)
        tasks = await tasks_for(info.context.session, member, status=TaskStatus(status) if status else None)
        info.context.audit("read", "intake_task", str(member), member)
        return [IntakeTaskType.of(t) for t in tasks]


@strawberry.type
class IntakeMutations:
    @strawberry.mutation(permission_classes=[allow("intake_form", "configure")], extensions=[Atomic()])
    async def set_intake_form(
        self,
        info: strawberry.Info[Context, Any],
        program_id: strawberry.ID,
        questions: list[IntakeQuestionInput],
        baseline_measures: list[str],
    ) -> SetIntakeFormResult:
        """Replace the program's intake form and its baseline measures (e.g. PHQ-9, GAD-7)."""
        program = await info.context.session.get(Program, parse_id(program_id, "programId"))
        if program is None:
            return NotFound.of("programId")
        form = await set_form(
            info.context.session, program.id, [q.to_question() for q in questions], baseline_measures
        )
        return IntakeFormType.of(form)

    @strawberry.mutation(permission_classes=[allow("intake", "submit")], extensions=[Atomic()])
    async def submit_intake(
        self, info: strawberry.Info[Context, Any], input: SubmitIntakeInput
    ) -> SubmitIntakeResult:
        """Record the client's screening; contraindications found block waitlist placement."""
        session = info.context.session
        program_id = parse_id(input.program_id, "programId")
        client_id = parse_id(input.client_id, "clientId")
        if await session.get(Program, program_id) is None:
            return NotFound.of("programId")
        if await session.get(Client, client_id) is None:
            return NotFound.of("clientId")
        keys = [a.key for a in input.answers]
        if len(keys) != len(set(keys)):
            return InvalidInput.of([FieldProblem("answers", "duplicate_key", "answers each question once")])
        principal = info.context.require_principal()
        response, tasks = await submit_intake(
            session, program_id, client_id, {a.key: a.value for a in input.answers}, principal.user_id
        )
        info.context.audit("create", "intake_response", str(response.id), client_id)
        return IntakeSubmitted(
            response=IntakeResponseType.of(response), pending_tasks=[IntakeTaskType.of(t) for t in tasks]
        )
