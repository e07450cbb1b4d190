"""The key custodian, the one holder of the OPRF secret, run apart from the platform
(``livc custodian``): :mod:`.settings` (its own settings, errors and wire encoding) <
:mod:`.storage` (key file, clients, audit log) < :mod:`.service` (the HTTP service) < :mod:`.cli`.
"""
