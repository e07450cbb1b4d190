"""Joint decisions of the cell: a proposal and its confirmation, or a decision taken in a meeting."""
