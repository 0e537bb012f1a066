"""Rendering Asterisk's configuration from our settings: `callcenter asterisk config --out DIR`.

The templates are the `.conf` files of `config/asterisk/`; a `{{ name }}` in them is replaced by a value
from the settings (`config/callcenter.yaml` and its `CALLCENTER__...` overrides) or by a block made here
(the trunk, the phones). The AMI port, user and secret are the `ami` section's, so the server and Asterisk
read them from one place. Secrets come from the environment and are checked (present, at least 12
characters, nothing a .conf file would cut): a rendered file is loadable by Asterisk as it is.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from callcenter.asterisk.conf import parse_conf
from callcenter.asterisk.dialplan import Dialplan, parse_dialplan
from callcenter.asterisk.phones import Phone
from callcenter.settings import Settings
from cti import contract

DEFAULT_TEMPLATES = Path("config/asterisk")  # relative to the working directory, like the settings
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
MIN_SECRET = 12
# In a .conf value: ';' starts a comment, a line break ends the value, quotes and backslashes are
# interpreted; none of them belongs in a value we write.
_UNSAFE = re.compile(r'[;"\\\s]')
Check = Callable[..., str]  # plain(key, value) / secret(where, value): the value, a problem noted if unusable
SECRET_FILES = ("manager_callcenter.conf", "pjsip_callcenter.conf")  # written readable by the owner only


class RenderError(ValueError):
    """The settings or the agent list cannot make a loadable configuration; one problem per line."""


def render(settings: Settings, phones: list[Phone], environ: Mapping[str, str] | None = None,
           templates: Path = DEFAULT_TEMPLATES) -> dict[str, str]:
    """File name → rendered text, for every template in `templates`."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    values = _values(settings, phones, environ, problems)
    files: dict[str, str] = {}
    names = sorted(p.name for p in templates.glob("*.conf")) if templates.is_dir() else []
    if not names:
        problems.append(f"{templates}: no .conf templates here")
    for name in names:
        text = (templates / name).read_text(encoding="utf-8")

        def fill(match: re.Match[str], name: str = name) -> str:
            key = match[1]
            if key not in values:
                problems.append(f"{templates / name}: unknown placeholder {{{{ {key} }}}}")
                return match[0]
            return values[key]

        files[name] = PLACEHOLDER.sub(fill, text)
    if problems:
        raise RenderError("\n".join(problems))
    return files


def write(files: Mapping[str, str], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(files.items()):
        path = out / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o640 if name in SECRET_FILES else 0o644)
        written.append(path)
    return written


def _values(settings: Settings, phones: list[Phone], environ: Mapping[str, str],
            problems: list[str]) -> dict[str, str]:
    ast, ami = settings.asterisk, settings.ami

    def plain(key: str, value: object, *, empty: bool = False) -> str:
        text = str(value)
        if (not text and not empty) or _UNSAFE.search(text):
            problems.append(f"{key}: {text!r} cannot be written into an Asterisk .conf file"
                            + ("" if text else " (empty)"))
        return text

    def secret(where: str, value: str) -> str:
        if not value:
            problems.append(f"{where}: not set")
        elif len(value) < MIN_SECRET or value.upper().startswith("CHANGE-ME"):
            problems.append(f"{where}: too weak (at least {MIN_SECRET} characters, not the example value)")
        elif _UNSAFE.search(value):
            problems.append(f"{where}: must not contain spaces, ';', '\"' or '\\\\'")
        return value

    _private("asterisk.ami_bind", ast.ami_bind, problems, address=True)
    _private("asterisk.ami_permit", ast.ami_permit, problems, address=False)
    if ast.rtp_start >= ast.rtp_end:
        problems.append(f"asterisk.rtp_start: {ast.rtp_start} must be below rtp_end {ast.rtp_end}")
    nat = [f"local_net = {plain('asterisk.local_net', net)}" for net in ast.local_net]
    if ast.external_address:
        address = plain("asterisk.external_address", ast.external_address)
        nat += [f"external_media_address = {address}", f"external_signaling_address = {address}"]
    return {
        **_dialplan_values(settings, plain),
        "sip_bind": plain("asterisk.sip_bind", ast.sip_bind),
        "sip_port": str(ast.sip_port),
        "nat_lines": "\n".join(nat),
        "http_bind": plain("asterisk.http_bind", ast.http_bind),
        "wss_port": str(ast.wss_port),
        "tls_cert": plain("asterisk.tls_cert", ast.tls_cert),
        "tls_key": plain("asterisk.tls_key", ast.tls_key),
        "rtp_start": str(ast.rtp_start),
        "rtp_end": str(ast.rtp_end),
        "stun_line": f"stunaddr = {plain('asterisk.stun_server', ast.stun_server)}" if ast.stun_server else "",
        "ami_port": str(ami.port),
        "ami_bind": ast.ami_bind,
        "ami_username": plain("ami.username", ami.username),
        "ami_secret": secret("ami.secret (CALLCENTER__AMI__SECRET)", ami.secret.get_secret_value()),
        "ami_permit": ast.ami_permit,
        "trunk": _trunk(settings, plain, secret, problems),
        "phones": "\n".join(_phone(p, secret(f"{p.endpoint}: password ({p.password_env})", p.password(environ)))
                            for p in phones) or "; no phones: list them in " + str(ast.agents_file),
    }


def _dialplan_values(settings: Settings, plain: Check) -> dict[str, str]:
    """The dialplan's [globals]: no secrets in them, so the simulator can render them too."""
    ast = settings.asterisk
    return {
        "fastagi_url": f"agi://{plain('asterisk.fastagi_host', ast.fastagi_host)}:{ast.fastagi_port}",
        "default_queue": ast.default_queue,
        "ring_timeout": str(ast.ring_timeout),
        "record": "yes" if ast.record_calls else "no",
        "recordings_dir": plain("asterisk.recordings_dir", ast.recordings_dir),
        "survey": plain("asterisk.survey", ast.survey, empty=True),
        "outbound_callerid": plain("asterisk.outbound_callerid", ast.outbound_callerid, empty=True),
        "outbound_timeout": str(ast.outbound_timeout),
    }


def load_dialplan(settings: Settings, path: Path) -> Dialplan:
    """The dialplan a real Asterisk would run from the template `path` (extensions.conf, its includes
    read from its folder) with these settings: what the simulated PBX runs. A file without placeholders
    (the lab's) is read as it is."""
    problems: list[str] = []

    def plain(key: str, value: object, *, empty: bool = False) -> str:
        text = str(value)
        if (not text and not empty) or _UNSAFE.search(text):
            problems.append(f"{key}: {text!r} cannot be written into an Asterisk .conf file")
        return text

    values = _dialplan_values(settings, plain)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RenderError(f"{path}: {exc.strerror or exc}") from None

    def fill(match: re.Match[str]) -> str:
        if match[1] not in values:
            problems.append(f"{path}: placeholder {{{{ {match[1]} }}}} is not a dialplan setting")
            return match[0]
        return values[match[1]]

    filled = PLACEHOLDER.sub(fill, text)
    if problems:
        raise RenderError("\n".join(problems))
    return parse_dialplan(parse_conf(filled, str(path), include_dir=path.parent))


def _private(key: str, value: str, problems: list[str], *, address: bool) -> None:
    """AMI never on a public address: loopback, private or (bind only) the unspecified address."""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        problems.append(f"{key}: {value!r} is not an IP {'address' if address else 'network'}")
        return
    unspecified = address and network.network_address.is_unspecified
    if not (unspecified or network.is_private or network.is_loopback) or network.prefixlen == 0:
        problems.append(f"{key}: {value} is public: the AMI belongs on loopback or a private network")


def _trunk(settings: Settings, plain: Check, secret: Check, problems: list[str]) -> str:
    ast = settings.asterisk
    if not ast.trunk_host:
        return "; no trunk: set asterisk.trunk_host (and trunk_username, CALLCENTER__ASTERISK__TRUNK_PASSWORD)"
    host, port, name = plain("asterisk.trunk_host", ast.trunk_host), ast.trunk_port, contract.TRUNK_ENDPOINT
    lines = [f"[{name}](cc-trunk-endpoint)", f"aors = {name}"]
    auth: list[str] = []
    if ast.trunk_username:
        user = plain("asterisk.trunk_username", ast.trunk_username)
        password = secret("asterisk.trunk_password (CALLCENTER__ASTERISK__TRUNK_PASSWORD)",
                          ast.trunk_password.get_secret_value())
        lines += [f"outbound_auth = {name}-auth", f"from_user = {user}"]
        auth = ["", f"[{name}-auth]", "type = auth", "auth_type = userpass", f"username = {user}",
                f"password = {password}"]
        if ast.trunk_register:
            auth += ["", f"[{name}-registration]", "type = registration", "transport = transport-udp",
                     f"server_uri = sip:{host}:{port}", f"client_uri = sip:{user}@{host}:{port}",
                     f"contact_user = {user}", f"outbound_auth = {name}-auth", "retry_interval = 60",
                     "forbidden_retry_interval = 600", "expiration = 3600"]
    elif ast.trunk_register:
        problems.append("asterisk.trunk_register: registering needs asterisk.trunk_username")
    lines += ["", f"[{name}]", "type = aor", f"contact = sip:{host}:{port}", "qualify_frequency = 60",
              "", f"[{name}-identify]", "type = identify", f"endpoint = {name}", f"match = {host}", *auth]
    return "\n".join(lines) + "\n"


def _phone(phone: Phone, password: str) -> str:
    return "\n".join([
        f"[{phone.endpoint}](cc-phone)",
        f"context = {phone.context}",
        f"aors = {phone.endpoint}",
        f"auth = {phone.endpoint}-auth",
        f'callerid = "{phone.name}" <{phone.extension}>',
        f"[{phone.endpoint}](cc-phone-aor)",
        f"[{phone.endpoint}-auth](cc-phone-auth)",
        f"username = {phone.endpoint}",
        f"password = {password}",
        "",
    ])
