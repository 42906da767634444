"""episodes: tasks, the shopper simulator and the episode controller (to come)."""
