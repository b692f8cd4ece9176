"""The connector kit: what a connector author builds on (see :mod:`.conformance`)."""
