"""What happens to a signal, told to whoever listens (blinker signals), as the cases' events do.

Domains above signals (the meetings, whose agenda names signals) subscribe when the app is
assembled; signals never import them. Sent inside the operation's transaction, the signal as sender.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: The signal is about to be erased: its rows and key go in the same transaction.
signal_erased = _signals.signal("signal-erased")

#: An identity was entered in a cell that does not keep identities (sender: the identity, its
#: ciphertexts empty; ``values``: what was entered, in memory only). The federation makes its
#: tokens from it now, as nothing will be left to make them from later (federation/README.md,
#: "Cells that do not keep identities").
identity_entered = _signals.signal("identity-entered")
