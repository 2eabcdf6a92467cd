"""The entrypoint: declares every page (title, icon, address) for ``st.navigation`` and runs the one asked for."""
from pathlib import Path

import streamlit as st

import engine

engine.device.configure_threads()  # once, before any page trains: leaves a core for the server
engine.lessons.catalogue()  # loaded (and each refused lesson file logged) once per server, not at a page's first use
st.set_page_config(page_title="Neural-network playground", page_icon=":material/hub:", layout="wide")

ROOT = Path(__file__).parent
# (script, title, icon, address). The addresses are the ones the old pages/ folder gave, so every old link
# (/Build?net=…, /Train?ws=…, /Class?teacher=…) still opens the same view; the home page is the address "/".
SECTIONS = {  # the sidebar's groups: the way in, the network pages, the teacher's
    "Start": [("views/0_Home.py", "Home", ":material/home:", None),
              ("views/7_Lessons.py", "Lessons", ":material/school:", "Lessons")],
    "Networks": [("views/1_Build.py", "Build", ":material/account_tree:", "Build"),
                 ("views/2_Convolution.py", "Convolution", ":material/grid_on:", "Convolution"),
                 ("views/3_Train.py", "Train", ":material/monitoring:", "Train"),
                 ("views/4_Inspect.py", "Inspect", ":material/visibility:", "Inspect"),
                 ("views/5_Gradients.py", "Gradients", ":material/trending_down:", "Gradients")],
    "Teaching": [("views/6_Class.py", "Class", ":material/groups:", "Class")],
}

sections = {name: [st.Page(script, title=title, icon=icon, url_path=address, default=address is None)
                   for script, title, icon, address in entries if (ROOT / script).is_file()]  # a page may be missing
            for name, entries in SECTIONS.items()}
st.navigation({name: pages for name, pages in sections.items() if pages}).run()
