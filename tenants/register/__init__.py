"""The cell's record of processing and DPIA starting point (issue 18, part 7)."""
