"""What happens to a case, told to whoever listens (blinker signals).

The cases domain knows nobody above it: the federation (and later domains) subscribe to these
signals when the app is assembled (``livc.app.factory``), so cases never import them. Each
signal is sent inside the operation's transaction, with the case as sender, after the change
is flushed; a receiver works in that same transaction (a job it enqueues runs after commit).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A case was opened, or reopened after closure: it is followed again.
case_became_active = _signals.signal("case-became-active")
#: The identity of the person concerned changed (the fields, never their values, are in the audit trail).
case_identity_changed = _signals.signal("case-identity-changed")
#: The case was closed (``reason`` is the closure reason; ``municipality`` the NIS code of the
#: municipality the person moved to, when the reason is "moved away", else None).
case_closed = _signals.signal("case-closed")
#: The case is about to be erased: its rows and keys go in the same transaction.
case_erased = _signals.signal("case-erased")
