"""The case lifecycle: which state may follow which, and who may move it. Pure."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    NEW = "new"
    INVESTIGATING = "investigating"
    WAITING = "waiting"  # waiting on the reporter
    RESOLVED = "resolved"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"  # by the reporter; the content is destroyed


# What a responder may set from each state. Resolved can be reopened; closed and withdrawn
# are final (a closed case that needs more work is a new report, with a new receipt).
TRANSITIONS: dict[State, frozenset[State]] = {
    State.NEW: frozenset({State.INVESTIGATING, State.WAITING, State.RESOLVED, State.CLOSED}),
    State.INVESTIGATING: frozenset({State.WAITING, State.RESOLVED, State.CLOSED}),
    State.WAITING: frozenset({State.INVESTIGATING, State.RESOLVED, State.CLOSED}),
    State.RESOLVED: frozenset({State.INVESTIGATING, State.CLOSED}),
    State.CLOSED: frozenset(),
    State.WITHDRAWN: frozenset(),
}
OPEN_STATES = frozenset({State.NEW, State.INVESTIGATING, State.WAITING, State.RESOLVED})
RESPONDER_SETTABLE = (State.INVESTIGATING, State.WAITING, State.RESOLVED, State.CLOSED)


class TransitionError(ValueError):
    def __init__(self, current: State, wanted: State) -> None:
        super().__init__(f"{current.value} -> {wanted.value}")
        self.current = current
        self.wanted = wanted


def parse_state(text: str) -> State | None:
    try:
        state = State(text.strip().lower())
    except ValueError:
        return None
    return state if state in RESPONDER_SETTABLE else None


def check_transition(current: State, wanted: State) -> None:
    if wanted not in TRANSITIONS[current]:
        raise TransitionError(current, wanted)


def can_withdraw(current: State) -> bool:
    return current in OPEN_STATES
