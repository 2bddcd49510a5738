"""The job state machine and the asyncio runner that drives providers and writes history."""

from .events import EventBus, JobEvent
from .state import TERMINAL, JobState, transition

__all__ = ["TERMINAL", "EventBus", "JobEvent", "JobState", "transition"]
