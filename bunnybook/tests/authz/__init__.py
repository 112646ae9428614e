"""The authorization matrix: every route and socket frame, asked by every actor."""
