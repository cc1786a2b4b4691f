"""One small module per exploration strategy, each registered by name (see ``racekit.choice.strategy``)."""
