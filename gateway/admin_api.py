"""Operator views across the stack: dead letters in every service, and their replay."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict

from gateway.api import PROBLEM, Operator, UpstreamsDep
from gateway.upstream import raise_for_problem
from shared.internal import DEAD_LETTER_LIST_EXAMPLE, DeadLetter, DeadLetterList

router = APIRouter(prefix="/v1/admin", tags=["operator"], responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM})

SERVICES = ("accounts", "payments", "securities", "insurance")
Service = Literal["accounts", "payments", "securities", "insurance"]


DEAD_LETTERS_EXAMPLE = {"services": [DEAD_LETTER_LIST_EXAMPLE], "unavailable": ["insurance"]}


class DeadLetters(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DEAD_LETTERS_EXAMPLE]})

    services: list[DeadLetterList]
    unavailable: list[str]


@router.get("/dead-letters", response_model=DeadLetters)
async def list_dead_letters(request: Request, _operator: Operator, upstreams: UpstreamsDep) -> DeadLetters:
    """Poison messages every service's consumers gave up on (newest first), with the error."""
    token = request.app.state.service_token()
    answers = await asyncio.gather(
        *(upstreams.call(s, "GET", "/internal/dead-letters", token=token) for s in SERVICES), return_exceptions=True
    )
    found, unavailable = [], []
    for service, answer in zip(SERVICES, answers, strict=True):
        if isinstance(answer, BaseException) or answer.status_code != 200:
            unavailable.append(service)
        else:
            found.append(DeadLetterList.model_validate(answer.json()))
    return DeadLetters(services=found, unavailable=unavailable)


@router.post("/dead-letters/{service}/{letter_id}/replay", response_model=DeadLetter)
async def replay_dead_letter(
    service: Service,
    letter_id: Annotated[int, Path(ge=1)],
    request: Request,
    _operator: Operator,
    upstreams: UpstreamsDep,
) -> DeadLetter:
    """Put a dead letter back on its original topic for its consumer to apply again."""
    answer = await upstreams.call(
        service, "POST", f"/internal/dead-letters/{letter_id}/replay", token=request.app.state.service_token()
    )
    raise_for_problem(answer)
    return DeadLetter.model_validate(answer.json())
