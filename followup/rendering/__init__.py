"""Turning a template and a client's data into the text that is sent."""
