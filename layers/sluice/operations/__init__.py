"""What operators do to a running platform (redrive dead letters), each action recorded as an event."""
