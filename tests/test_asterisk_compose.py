"""docker-compose.yml: valid for `docker-compose config` (Debian's docker-compose validates without a Docker
engine), and its structure is what docs/production.md promises, checked in Python as well."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="needs Debian's docker-compose package")
def test_docker_compose_config_accepts_the_file_with_the_example_environment(tmp_path: Path) -> None:
    result = subprocess.run(["docker-compose", "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), "config"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == {"postgres", "asterisk-config", "asterisk", "callcenter"}
    assert resolved["services"]["callcenter"]["environment"]["CALLCENTER__AMI__SECRET"] == "CHANGE-ME-ami-secret"


def test_every_required_variable_is_in_the_env_example_and_no_secret_is_in_the_file() -> None:
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert required <= example
    assert required >= {"AMI_SECRET", "POSTGRES_PASSWORD"}
    for line in text.splitlines():
        if re.search(r"(SECRET|PASSWORD)\w*:\s", line):
            assert "${" in line, line


def test_services_health_checks_order_and_networks() -> None:
    services = _compose()["services"]
    for name in ("postgres", "asterisk", "callcenter"):
        assert services[name]["healthcheck"]["test"], name
    assert services["asterisk"]["depends_on"]["asterisk-config"]["condition"] == "service_completed_successfully"
    assert services["callcenter"]["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                                    "asterisk": {"condition": "service_healthy"}}
    assert services["asterisk-config"]["command"][:3] == ["callcenter", "asterisk", "config"]
    # AMI (5038), FastAGI (4573) and PostgreSQL are never published; the API only on the host's loopback
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert not [p for p in published if re.search(r"\b(5038|4573|5432)\b", str(p))]
    assert services["callcenter"]["ports"] == ["127.0.0.1:8080:8080"]


def test_recordings_volume_is_shared_read_only_for_the_server() -> None:
    services = _compose()["services"]
    assert "recordings:/var/spool/asterisk/monitor/callcenter" in services["asterisk"]["volumes"]
    assert "recordings:/var/spool/asterisk/monitor/callcenter:ro" in services["callcenter"]["volumes"]
    assert services["callcenter"]["group_add"] == ["2000"]


def test_the_ami_permit_is_the_private_network() -> None:
    data = _compose()
    environment = data["x-callcenter-environment"]
    subnet = data["networks"]["private"]["ipam"]["config"][0]["subnet"]
    assert environment["CALLCENTER__ASTERISK__AMI_PERMIT"] == subnet
    assert environment["CALLCENTER__ASTERISK__FASTAGI_HOST"] == "callcenter"
