"""One log line per decision, as ``event key=value ...`` (logfmt): grep-able and parseable."""

from __future__ import annotations


def _value(value: object) -> str:
    text = "" if value is None else str(value)
    if text == "" or any(c in text for c in ' ="'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def logfmt(event: str, **fields: object) -> str:
    parts = [f"event={event}"]
    parts.extend(f"{key}={_value(value)}" for key, value in fields.items() if value is not None)
    return " ".join(parts)
