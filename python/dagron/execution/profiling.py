"""Upstream dagron's other import path for :mod:`dagron.profiling`."""

from dagron.profiling import NodeProfile, ProfileReport, profile_execution

__all__ = ["NodeProfile", "ProfileReport", "profile_execution"]
