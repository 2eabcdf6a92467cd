"""The pages' widgets (Streamlit lives here, not in engine/): one room per page over ``ui.core``; no page imports
another."""
