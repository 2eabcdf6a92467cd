# The playground as one container. CPU build (default):
#   docker build -t nn-playground .
#   docker run --rm -p 8501:8501 nn-playground
# CUDA build, run on an NVIDIA GPU (needs the NVIDIA Container Toolkit on the host):
#   docker build -t nn-playground:cuda --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
#   docker run --rm --gpus all -p 8501:8501 nn-playground:cuda
FROM python:3.11.13-slim-bookworm

# Where torch's wheel comes from: the CPU-only index keeps the image small; a CUDA index gives GPU support.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# torch and torchvision first, from the chosen index, at the versions requirements.txt pins; then everything else.
COPY requirements.txt .
RUN pip install --index-url "$TORCH_INDEX" $(grep -E '^(torch|torchvision)==' requirements.txt) \
    && pip install -r requirements.txt

COPY . .

# The code stays owned by root; the server runs as an unprivileged user, which owns only the workspace database's
# folder (mount a volume there to keep students' workspaces across containers, or set PLAYGROUND_DATABASE_URL).
ENV PLAYGROUND_DATA_DIR=/data
RUN useradd --create-home --uid 10001 playground \
    && mkdir -p /data && chown playground /data
VOLUME /data
USER playground

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)" || exit 1

# .streamlit/config.toml carries the rest (headless, XSRF protection, upload cap, session TTL).
CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501"]
