"""Lint the Dockerfile as text (no Docker engine runs here, so it is never built in CI)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _args(instructions, keyword):
    return [rest for kw, rest in instructions if kw == keyword]


def test_base_image_is_a_pinned_python_311_slim(instructions):
    bases = _args(instructions, "FROM")
    assert bases, "no FROM"
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?( AS \w+)?", base, re.I), base


def test_runs_as_non_root(instructions):
    users = _args(instructions, "USER")
    assert users, "no USER: the server would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_healthcheck_hits_streamlit_health(instructions):
    checks = _args(instructions, "HEALTHCHECK")
    assert len(checks) == 1 and "/_stcore/health" in checks[0]


def test_installs_pinned_requirements(instructions):
    runs = " ".join(_args(instructions, "RUN"))
    assert "-r requirements.txt" in runs
    assert any("requirements.txt" in copy for copy in _args(instructions, "COPY"))


def test_torch_index_is_a_build_arg_defaulting_to_cpu(instructions):
    assert "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in _args(instructions, "ARG")
    runs = " ".join(_args(instructions, "RUN"))
    assert re.search(r"--(extra-)?index-url \"?\$\{?TORCH_INDEX", runs)


def test_exposes_and_serves_the_app_on_8501(instructions):
    assert "8501" in _args(instructions, "EXPOSE")
    command = " ".join(_args(instructions, "CMD") + _args(instructions, "ENTRYPOINT"))
    assert re.search(r"streamlit\W+run\W+app\.py", command), command
    assert "0.0.0.0" in command  # reachable from outside the container


def test_no_secrets(instructions):
    secret = re.compile(r"(PASSWORD|TOKEN|SECRET|[A-Z_]*KEY)\s*=\s*\S", re.I)
    for keyword, rest in instructions:
        if keyword in {"ENV", "ARG", "RUN", "LABEL"}:
            assert not secret.search(rest), f"{keyword} {rest}"


def test_dockerignore_keeps_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "test-results"} <= ignored
