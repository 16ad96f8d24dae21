"""The engine: intake -> store -> plan, dispatch, simulate, the worker's ticks.

Typed against the store port and the channel port; the concrete store and channels
are picked in :mod:`followup.wiring`.
"""
