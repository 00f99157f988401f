"""Services: the server's use cases, combining :mod:`signal_io` and :mod:`store`."""
