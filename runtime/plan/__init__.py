"""Frame-budget planner: pick the settings of a pipeline that meet a frame rate on a device with the best
expected accuracy, from the device's latency profile and the accuracy the project measured.

A plan is a JSON file (:func:`write_plan`); the runtime loops take it (``edgecv propagate --plan``,
``edgecv track --plan``, ``edgecv colorize --plan``, ``edgecv mot --plan``; :func:`settings_for` in Python).

The cost of a frame comes from the profile's per-artifact latencies (``measured`` where the device was
measured, ``predicted`` or ``published`` otherwise; every figure the plan uses says which) plus the loop's
own per-frame work (resizing, crops, colour conversion), which the profile keeps under ``loops`` when it
was measured (:func:`measure_loop_overhead`). See :mod:`.pipelines` for each pipeline's cost model.
"""
from __future__ import annotations

from .core import (
    PLAN_SCHEMA,
    PlanError,
    accuracy_table,
    load_plan,
    make_plan,
    settings_for,
    write_plan,
)
from .loops import measure_loop_overhead

__all__ = ["PLAN_SCHEMA", "PlanError", "accuracy_table", "load_plan", "make_plan", "settings_for", "write_plan",
           "measure_loop_overhead"]
