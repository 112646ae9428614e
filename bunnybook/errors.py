"""Domain errors shared by services; views and the API map them to HTTP answers."""


class Conflict(Exception):
    """The action clashes with the current state (answered 409)."""
