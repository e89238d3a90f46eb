"""Human review: flagged and low-confidence outputs, an operator's resolution, labelled feedback."""
