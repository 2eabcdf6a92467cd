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

# Presenter mode (ui/core/present.py): Streamlit sizes its text in rem, so a larger root font size scales every
# heading, paragraph, label and widget together. The way out stays in the window's corner while the sidebar, where
# the toggle lives, is collapsed: in the header's empty band, clear of the page.
PRESENTER_FONT_PX = 21
_PRESENTER_CSS = f"""<style>
html {{ font-size: {PRESENTER_FONT_PX}px !important; }}
[data-testid=stMainBlockContainer] {{ padding-top: 3.5rem; }}
@media (max-width: {NARROW_PX}px) {{
  .katex-display > .katex {{ font-size: 1em; }}  /* KaTeX's 1.21em: at this text size a formula outgrows the window */
}}
.st-key-present-bar {{
  position: fixed !important; top: 0.4rem; right: 3.5rem; z-index: 1000000; width: auto !important;
}}
</style>"""


def presenter_css() -> None:
    """Larger text everywhere and the floating "Leave presenter mode" button, for presenter mode."""
    st.html(_PRESENTER_CSS)


# st.set_page_config(initial_sidebar_state=...) is applied on an open page, but Streamlit prefers the state its user
# last chose by hand (kept in the browser's localStorage): once someone has opened or closed the sidebar, a changed
# initial state does nothing. This one-shot script, sent only on the run that enters or leaves presenter mode, presses
# the sidebar's own button instead; it waits for the page-config change and the slide to settle, and gives up after
# a few tries. It is a constant: no user string goes into it.
_SIDEBAR_JS = """<script>
(() => {
  const collapse = %s;
  if (!collapse && window.innerWidth <= 768) return;  // a small window keeps Streamlit's own choice
  let tries = 0;
  const step = () => {
    const bar = document.querySelector('[data-testid=stSidebar]');
    if (!bar || tries++ > 6) return;
    if ((bar.getBoundingClientRect().right <= 1) === collapse) return;
    const button = document.querySelector(collapse ? '[data-testid=stSidebarCollapseButton] button'
                                                   : '[data-testid=stExpandSidebarButton]');
    if (button) button.click();
    setTimeout(step, 600);
  };
  setTimeout(step, 300);
})();
</script>"""


def sidebar_script(collapse: bool) -> None:
    """Collapse (or bring back) the sidebar once, also where its user last opened or closed it by hand."""
    st.html(_SIDEBAR_JS % ("true" if collapse else "false"), unsafe_allow_javascript=True)
