"""The wiring point between channel adapters and the core: the only place, with
:mod:`helpdesk.bootstrap` and the CLI, that imports concrete adapters."""
