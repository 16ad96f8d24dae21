"""The web app (FastAPI on uvicorn)."""
