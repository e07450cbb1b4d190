"""Who sits in a cell: memberships, organisations, invitations, the undertaking, sign-in and SSO."""
