"""The cell meets: meetings of a table or a case team, their agenda, attendance register and minutes."""
