"""verifiers: pure scoring of episode records (to come)."""
