"""Page layout shared by every page: side-by-side columns stack on a narrow window (a projector at 200% zoom)."""
import streamlit as st

# Streamlit stacks columns only below 640 px. A 1400 px projector at 200% zoom is 700 CSS px wide, where two
# columns leave a table or a formula about 300 px and they scroll sideways. Rows of four or more columns are
# button bars and small number inputs: they stay in a row, but a button keeps its whole label and wraps to the next
# line instead of showing "Start new …".
NARROW_PX = 960
_CSS = f"""<style>
@media (max-width: {NARROW_PX}px) {{
  [data-testid=stHorizontalBlock]:not(:has(> [data-testid=stColumn]:nth-child(4))) > [data-testid=stColumn] {{
    flex: 1 1 100% !important;
    min-width: 100% !important;
  }}
  [data-testid=stHorizontalBlock]:has(> [data-testid=stColumn]:nth-child(4)) > [data-testid=stColumn]:has(
      [data-testid=stButton]) {{
    flex: 1 1 auto !important;
    min-width: max-content !important;
  }}
}}
</style>"""


def narrow_window_css() -> None:
    """Stack two- and three-column rows when the window is narrow, so nothing needs sideways scrolling."""
    st.html(_CSS)
