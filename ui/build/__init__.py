"""The Build page: start, layer editor, export/import and links; the summary table and graph."""
