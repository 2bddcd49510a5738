"""The job state machine and the asyncio runner that drives providers and writes history."""

from ..core.job_state import TERMINAL, JobState, transition
from .events import EventBus, JobEvent

__all__ = ["TERMINAL", "EventBus", "JobEvent", "JobState", "transition"]
