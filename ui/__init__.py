"""Page-side helpers: per-session state and widget groups shared by several pages (Streamlit lives here, not in engine/)."""
