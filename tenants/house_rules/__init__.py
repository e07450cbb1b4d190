"""The cell's house rules (*huishoudelijk reglement*) and their legal basis, versioned."""
