"""What each role may do, in one place.

The foundation grants the owning agency's analysts the tip graph; the later permissions
work narrows investigators and the other roles field by field.
"""

from __future__ import annotations

from backend.models import Role

__all__ = ["GRAPH_READERS", "GRAPH_WRITERS", "Role"]

#: Roles that may browse and read the tip graph.
GRAPH_READERS: frozenset[str] = frozenset({Role.ANALYST, Role.PROGRAM_MANAGER})
#: Roles that may create and change records of the tip graph.
GRAPH_WRITERS: frozenset[str] = frozenset({Role.ANALYST})
