"""Stage 1–2: read reports, clean them and cut them into units (ingest → normalise →
segment → prepare), and tokenise units."""
