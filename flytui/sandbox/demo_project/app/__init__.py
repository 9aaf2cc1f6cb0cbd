"""Demo FastAPI application deployed by the flytui sandbox."""
