"""Flows: kinds of records moving between systems on a schedule or on demand (see :mod:`.scheduler`)."""
