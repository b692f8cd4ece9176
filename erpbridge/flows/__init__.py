"""Flows: kinds of records moving between systems on a schedule or on demand (see :mod:`.scheduler`)."""

from erpbridge.flows.runners import FlowError
from erpbridge.flows.runs import FlowBusy, FlowRuns
from erpbridge.flows.scheduler import Scheduler, flow_status, run_flow, run_scheduler

__all__ = ["Scheduler", "run_scheduler", "run_flow", "flow_status", "FlowRuns", "FlowBusy", "FlowError"]
