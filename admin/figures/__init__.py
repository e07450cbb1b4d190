"""The platform-wide anonymous figures for the platform's administrators (issue 17, part 7)."""
