"""Inference backends. Each imports its package lazily so a missing one fails only when asked for."""
