"""The shared trainer: models, losses, the loop and its logging; it knows no task by name."""
