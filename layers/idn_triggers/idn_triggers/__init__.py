"""Library shared by every function: models, auth, routing, handler registry."""
