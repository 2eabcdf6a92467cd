"""Home page: what the playground is, a card per page, and the compute device."""
from pathlib import Path

import streamlit as st

import engine
from ui.core import sidebar
from ui.core.page import keep_alive, page_link, state

keep_alive()  # a run started on the Train page keeps its heartbeat while the student is here
sidebar.sidebar_ui(state())

ROOT = Path(__file__).parents[1]
# (script, label, icon, what a student does there)
PAGES = [
    ("views/7_Lessons.py", "Lessons", ":material/school:",
     "Guided activities by topic: set the app up, predict, do it, and get your work checked and ticked."),
    ("views/1_Build.py", "Build", ":material/account_tree:",
     "Stack layers or start from a preset (LeNet-5, VGG16, a ResNet, an LSTM) and see every shape and parameter "
     "count."),
    ("views/2_Convolution.py", "Convolution", ":material/grid_on:",
     "Watch a kernel slide over an image step by step; change stride, padding and dilation."),
    ("views/3_Train.py", "Train", ":material/monitoring:",
     "Train your network live and watch loss and accuracy move; pause, stop, compare runs."),
    ("views/4_Inspect.py", "Inspect", ":material/visibility:",
     "Look inside a trained network: filters, feature maps and saliency maps of what it looks at."),
    ("views/5_Gradients.py", "Gradients", ":material/trending_down:",
     "See gradients shrink layer by layer in a deep sigmoid network, and what ReLU, batch norm and skips change."),
    ("views/6_Class.py", "Class", ":material/groups:",
     "For teachers: make a class, watch every student's network and runs live, and send them a network."),
]

st.title("Neural-network playground")
st.markdown(
    "A hands-on lab for learning how neural networks work. Build a network layer by layer and see "
    "its shapes and parameters update as you go, animate a convolution, train it live on the CPU "
    "or a CUDA GPU, then open it up: its filters, its activations, and saliency maps of what it "
    "looks at. A deep sigmoid network shows why gradients vanish, and what fixes it."
)

with st.container(key="device"):
    st.markdown(f":material/memory: **Compute device:** {engine.device.describe()}")

available = [page for page in PAGES if (ROOT / page[0]).is_file()]  # pages may still be missing
if not available:
    st.info("No pages yet.")
for row_start in range(0, len(available), 3):
    columns = st.columns(3)
    for column, (script, label, icon, blurb) in zip(columns, available[row_start:row_start + 3]):
        with column.container(border=True, height="stretch"):
            page_link(script, f"**{label}**", icon)
            st.caption(blurb)
