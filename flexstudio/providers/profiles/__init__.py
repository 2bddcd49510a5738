"""Every protocol's built-in profiles and its ``custom_profile`` (for user-defined endpoints), as data.

A module here holds no protocol code and imports only ``providers.base`` and ``core``: the registry reads
these at start-up, and each profile's factory imports its protocol module on the first ``create``."""
