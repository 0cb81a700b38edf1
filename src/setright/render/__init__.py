"""Views: turn plain data into text, Markdown or JSON. Never touches the store."""
