"""The operators' realm: accounts, sign-in, sessions, the operator trail and what a cell sees of it."""
