"""What happens to a case, as pure rules: who is told of what (one policy for every alert,
reminder and escalation), and which state may follow which."""

from __future__ import annotations

import uuid

import pytest

from bot.cases.lifecycle import (
    OPEN_STATES,
    State,
    TransitionError,
    can_withdraw,
    check_transition,
    parse_state,
)
from bot.cases.readers import Occasion, Staff, excludes_everyone, recipients

ANN = Staff(uuid.uuid4(), admin=False)
BEN = Staff(uuid.uuid4(), admin=False)
ADA = Staff(uuid.uuid4(), admin=True)
ALF = Staff(uuid.uuid4(), admin=True)
TEAM = [ANN, BEN, ADA, ALF]
NOBODY: frozenset[uuid.UUID] = frozenset()


def names(people: list[Staff]) -> set[str]:
    by_id = {ANN.id: "Ann", BEN.id: "Ben", ADA.id: "Ada", ALF.id: "Alf"}
    return {by_id[p.id] for p in people}


def test_a_new_case_goes_to_everyone_who_may_read_it() -> None:
    assert names(recipients(Occasion.NEW_CASE, TEAM, NOBODY)) == {"Ann", "Ben", "Ada", "Alf"}
    assert names(recipients(Occasion.NEW_CASE, TEAM, frozenset({BEN.id}))) == {"Ann", "Ada", "Alf"}


@pytest.mark.parametrize(
    "occasion", [Occasion.REMINDER, Occasion.REPORTER_WROTE, Occasion.WITHDRAWN]
)
def test_the_one_handling_it_is_told_and_everyone_while_nobody_does(occasion: Occasion) -> None:
    assert names(recipients(occasion, TEAM, NOBODY, claimer=BEN.id)) == {"Ben"}
    assert names(recipients(occasion, TEAM, NOBODY)) == {"Ann", "Ben", "Ada", "Alf"}


def test_an_escalation_goes_to_admins_and_to_the_others_if_every_admin_is_excluded() -> None:
    assert names(recipients(Occasion.ESCALATION, TEAM, NOBODY, claimer=ANN.id)) == {"Ada", "Alf"}
    assert names(recipients(Occasion.ESCALATION, TEAM, frozenset({ADA.id}))) == {"Alf"}
    both = frozenset({ADA.id, ALF.id})
    assert names(recipients(Occasion.ESCALATION, TEAM, both)) == {"Ann", "Ben"}


@pytest.mark.parametrize("occasion", list(Occasion))
def test_someone_the_reporter_excluded_is_never_told_on_any_occasion(occasion: Occasion) -> None:
    for excluded in (ADA, ANN):
        told = recipients(occasion, TEAM, frozenset({excluded.id}), claimer=excluded.id)
        assert excluded not in told and told


def test_an_exclusion_may_not_leave_a_case_without_readers() -> None:
    assert excludes_everyone(TEAM, [p.id for p in TEAM])
    assert not excludes_everyone(TEAM, [ANN.id, BEN.id, ADA.id])
    assert not excludes_everyone([], [])  # no staff yet: the case waits, it is not refused


def test_states_follow_the_lifecycle_and_final_states_stay_final() -> None:
    check_transition(State.NEW, State.INVESTIGATING)
    check_transition(State.RESOLVED, State.INVESTIGATING)  # resolved can be reopened
    for final in (State.CLOSED, State.WITHDRAWN):
        for wanted in State:
            with pytest.raises(TransitionError):
                check_transition(final, wanted)
    with pytest.raises(TransitionError):
        check_transition(State.INVESTIGATING, State.INVESTIGATING)  # not a change
    assert {s for s in State if can_withdraw(s)} == set(OPEN_STATES)


def test_responders_may_set_only_the_states_meant_for_them() -> None:
    assert parse_state(" Investigating ") is State.INVESTIGATING
    assert parse_state("withdrawn") is None  # only the reporter withdraws
    assert parse_state("new") is None
    assert parse_state("done") is None
