"""Typed models of trigger payloads and answers."""

from idn_triggers.models.base import SailPointModel

__all__ = ["SailPointModel"]
