"""The shipped Asterisk configuration (config/asterisk): it renders, it parses, and it has every context,
extension, variable and user event the code relies on (`callcenter.asterisk.check`), with the contract's
steps as the lab dialplan that recorded the reference traces has them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from callcenter.asterisk import check as checker
from callcenter.asterisk.conf import read_conf
from callcenter.asterisk.dialplan import Dialplan, read_dialplan
from callcenter.asterisk.phones import Phone, PhoneError, load_phones
from callcenter.asterisk.render import RenderError, render, write
from callcenter.cli import main
from callcenter.settings import Settings, load_settings
from cti import contract

ROOT = Path(__file__).parent.parent
TEMPLATES = ROOT / "config" / "asterisk"
LAB = Path(__file__).parent / "traces" / "lab-config" / "extensions.conf"
SECRETS = {"CALLCENTER__AMI__SECRET": "ami-secret-for-tests-1", "PHONE_AGENT1001_PASSWORD": "phone-secret-1001",
           "PHONE_AGENT1002_PASSWORD": "phone-secret-1002", "PHONE_SUP2001_PASSWORD": "phone-secret-2001"}


def _settings(**asterisk: object) -> Settings:
    settings = load_settings(ROOT / "config" / "callcenter.yaml", environ=SECRETS)
    agents = ROOT / "config" / "agents.yaml"
    return settings.model_copy(update={"asterisk": settings.asterisk.model_copy(
        update={"agents_file": agents, **asterisk})})


def _rendered(tmp_path: Path, settings: Settings | None = None) -> Path:
    settings = settings or _settings()
    write(render(settings, load_phones(settings.asterisk.agents_file), SECRETS, TEMPLATES), tmp_path)
    return tmp_path


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    return _rendered(tmp_path)


@pytest.fixture
def dialplan(rendered: Path) -> Dialplan:
    return read_dialplan(rendered / "extensions.conf")


def test_the_default_rendering_passes_every_check(rendered: Path) -> None:
    assert checker.check(rendered) == []


def test_a_trunk_renders_endpoint_aor_identify_auth_and_registration(tmp_path: Path) -> None:
    settings = _settings(trunk_host="sip.carrier.example", trunk_username="acme", trunk_register=True,
                         trunk_password=SecretStr("carrier-secret-42"), external_address="203.0.113.7",
                         stun_server="stun.example.org:3478")
    folder = _rendered(tmp_path, settings)
    assert checker.check(folder) == []
    pjsip = read_conf(folder / "pjsip.conf")
    trunk = pjsip.resolved(contract.TRUNK_ENDPOINT)
    assert trunk["context"] == contract.INBOUND_CONTEXT
    assert trunk["outbound_auth"] == "cc-trunk-auth"
    assert pjsip.resolved("cc-trunk-identify") == {"type": "identify", "endpoint": "cc-trunk",
                                                   "match": "sip.carrier.example"}
    assert pjsip.resolved("cc-trunk-registration")["client_uri"] == "sip:acme@sip.carrier.example:5060"
    assert pjsip.resolved("transport-udp")["external_media_address"] == "203.0.113.7"
    assert "stunaddr = stun.example.org:3478" in (folder / "rtp.conf").read_text()


def test_secrets_come_only_from_the_environment_and_must_be_strong(tmp_path: Path) -> None:
    settings = _settings()
    phones = load_phones(settings.asterisk.agents_file)
    weak = {**SECRETS, "PHONE_AGENT1002_PASSWORD": "short"}
    del weak["PHONE_SUP2001_PASSWORD"]
    settings = settings.model_copy(update={"ami": settings.ami.model_copy(update={"secret": SecretStr("")})})
    with pytest.raises(RenderError) as error:
        render(settings, phones, weak, TEMPLATES)
    assert str(error.value).splitlines() == [
        "ami.secret (CALLCENTER__AMI__SECRET): not set",
        "agent1002: password (PHONE_AGENT1002_PASSWORD): too weak (at least 12 characters, not the example value)",
        "sup2001: password (PHONE_SUP2001_PASSWORD): not set",
    ]
    for template in TEMPLATES.glob("*.conf"):  # nothing secret is committed
        assert not re.search(r"(secret|password)\s*=\s*[^{\s]", template.read_text()), template


def test_the_ami_is_never_rendered_onto_a_public_address(tmp_path: Path) -> None:
    settings = _settings(ami_bind="93.184.216.34", ami_permit="0.0.0.0/0")
    with pytest.raises(RenderError) as error:
        render(settings, [], SECRETS, TEMPLATES)
    assert "asterisk.ami_bind: 93.184.216.34 is public" in str(error.value)
    assert "asterisk.ami_permit: 0.0.0.0/0 is public" in str(error.value)


def test_the_ami_user_has_least_privilege(rendered: Path) -> None:
    manager = read_conf(rendered / "manager.conf")
    user = manager.section("callcenter")
    assert user is not None
    assert user.get("read") == "call,dialplan,agi,dtmf,user,system"
    assert user.get("write") == "call,originate,reporting"
    assert user.get("secret") == SECRETS["CALLCENTER__AMI__SECRET"]
    assert "!Event: RTCPSent" in user.values("eventfilter")
    assert manager.resolved("general")["bindaddr"] == "127.0.0.1"
    assert (rendered / "manager_callcenter.conf").stat().st_mode & 0o777 == 0o640


def test_phones_are_webrtc_endpoints_in_the_agent_context(rendered: Path) -> None:
    pjsip = read_conf(rendered / "pjsip.conf")
    endpoint = pjsip.resolved("agent1001")
    assert endpoint["context"] == contract.AGENT_PHONE_CONTEXT
    assert {k: endpoint[k] for k in ("webrtc", "media_encryption", "dtls_auto_generate_cert", "ice_support",
                                     "use_avpf", "rtcp_mux")} == {
        "webrtc": "yes", "media_encryption": "dtls", "dtls_auto_generate_cert": "yes", "ice_support": "yes",
        "use_avpf": "yes", "rtcp_mux": "yes"}
    assert endpoint["callerid"] == '"Agent One" <1001>'
    assert pjsip.resolved("sup2001")["context"] == contract.SUPERVISOR_PHONE_CONTEXT


def test_a_bad_agent_list_is_reported_entry_by_entry(tmp_path: Path) -> None:
    bad = tmp_path / "agents.yaml"
    bad.write_text("agents:\n  - {endpoint: Agent-1, name: A, extension: '1', password_env: P}\n"
                   "  - {endpoint: cc-trunk, name: 'B;x', extension: abc, password_env: p}\n")
    with pytest.raises(PhoneError) as error:
        load_phones(bad)
    assert [line.split(": ", 1)[1] for line in str(error.value).splitlines()] == [
        "agents[0].endpoint: must be a lowercase letter then 1-39 lowercase letters or digits",
        "agents[1].endpoint: must be a lowercase letter then 1-39 lowercase letters or digits",
        'agents[1].name: must be non-empty text without " ; \\ < > or line breaks',
        "agents[1].extension: must be 1-15 digits",
        "agents[1].password_env: must be an environment variable name (A-Z, 0-9, _)",
    ]


# ---- the contract names, defined once ----------------------------------------------------------------

def _names(prefix: str = "", suffix: str = "") -> set[str]:
    return {v for k, v in vars(contract).items() if k.isupper() and k.startswith(prefix) and k.endswith(suffix)
            and isinstance(v, str)}


def test_every_contract_context_is_in_the_dialplan_and_no_other(dialplan: Dialplan) -> None:
    assert set(dialplan.contexts) == _names(suffix="_CONTEXT")


def test_every_cc_variable_in_the_dialplan_is_a_contract_name_and_vice_versa(rendered: Path) -> None:
    text = (rendered / "extensions.conf").read_text() + (rendered / "extensions_callcenter.conf").read_text()
    used = set(re.findall(r"\bCC_[A-Z_]+\b", text))
    assert used == {v for v in _names("VAR_") if v.startswith("CC_")}


def test_user_events_and_states_are_the_contract_ones(rendered: Path) -> None:
    text = (rendered / "extensions_callcenter.conf").read_text()
    assert set(re.findall(r"UserEvent\((\w+)", text)) == _names("USEREVENT_")
    assert set(re.findall(rf"Set\({contract.VAR_STATE}=(\w+)\)", text)) == _names("STATE_")
    assert {f"_{p}[a-z]." for p in _names("SPY_")} <= set(re.findall(r"exten => (_[\w-]+\[a-z\]\.)", text))


def test_the_checker_finds_what_a_broken_dialplan_lacks(rendered: Path) -> None:
    own = rendered / "extensions_callcenter.conf"
    text = own.read_text()
    text = text.replace("UserEvent(CCNoAnswer,", "UserEvent(CCNoAnswr,")
    text = text.replace('"ANSWER"]?postcall)', '"ANSWER"]?postcal)')
    text = text.replace("[cc-survey]", "[cc-surveys]").replace("${CC_RING_TIMEOUT}", "${CC_RING_TIMOUT}")
    text = text.replace("ChanSpy(PJSIP/${EXTEN:6}-,qbEB)", "Stasis(spy)")
    own.write_text(text)
    problems = "\n".join(checker.check(rendered))
    for expected in ("context [cc-survey] (cti/contract.py) is missing",
                     "context [cc-surveys] is not named in cti/contract.py",
                     "variable CC_RING_TIMOUT is not named in cti/contract.py",
                     "${CC_RING_TIMOUT} is read but never set",
                     "user events ['CCNoAnswr', 'CCWaiting'] differ",
                     "GotoIf target 'postcal' does not exist",
                     "application Stasis: no module known for it",
                     "has no ChanSpy for barge-<agent>",
                     "cc-connect,agent1001,6 should be UserEvent(CCNoAnswer"):
        assert expected in problems


def test_the_attended_transfer_needs_its_feature_codes_and_the_agents_right_to_transfer(rendered: Path) -> None:
    """Atxfer fails without an atxfer code (Asterisk has none by default), CancelAtxfer with an empty
    atxferabort; and the agent's leg has the transfer codes only if cc-connect Dials it with `t`."""
    features = rendered / "features.conf"
    assert read_conf(features).resolved("featuremap")["atxfer"] == "*2"
    features.write_text(features.read_text().replace("atxfer = *2", "automon = *2").replace(
        "atxferabort = *1", "atxferabort ="))
    own = rendered / "extensions_callcenter.conf"
    own.write_text(own.read_text().replace("${CC_RING_TIMEOUT},gtU(", "${CC_RING_TIMEOUT},gU("))
    assert checker.check(rendered) == [
        f"{rendered / 'extensions.conf'}: [cc-connect] Dial lacks the option t: agents could not transfer (Atxfer)",
        f"{features}: [featuremap] atxfer is not set: the AMI action Atxfer would fail",
        f"{features}: [general] atxferabort is empty: the AMI action CancelAtxfer would fail"]


def test_an_app_whose_module_is_not_loaded_is_reported(rendered: Path) -> None:
    modules = rendered / "modules.conf"
    modules.write_text(modules.read_text().replace("load = app_chanspy.so", ""))
    assert checker.check(rendered) == [
        f"{modules}: app_chanspy.so is not loaded, but [cc-supervisor] uses application ChanSpy"]


# ---- the contract contexts behave as the lab's that recorded the traces ------------------------------

SUBSTITUTED = {  # the shipped dialplan names a setting where the lab wrote a value; `t` lets the agent
    # transfer (the lab's transfers went through app_queue's own tT)
    "${CC_DEFAULT_QUEUE}": "support", "${CC_RING_TIMEOUT}": "8", "gtU(cc-record^${CC_RECORD})": "g",
    "${CC_FASTAGI}": "agi://127.0.0.1:4573",
}


def _steps(dialplan: Dialplan, context: str, exten: str) -> list[tuple[int, str, str, str | None]]:
    extension = dialplan.find(context, exten)
    assert extension is not None, (context, exten)
    shown = []
    for step in sorted(extension.steps.values(), key=lambda s: s.priority):
        data = step.data
        for ours, lab in SUBSTITUTED.items():
            data = data.replace(ours, lab)
        shown.append((step.priority, step.app, data, step.label))
    return shown


@pytest.mark.parametrize(("context", "exten", "upto"), [
    (contract.WAIT_CONTEXT, "s", None),
    (contract.CONNECT_CONTEXT, "agent1001", 8),  # after the post-call label: the survey or a goodbye
    (contract.AGENT_CONTEXT, "s", None),
])
def test_contract_contexts_have_the_lab_steps(dialplan: Dialplan, context: str, exten: str, upto: int | None) -> None:
    lab = read_dialplan(LAB)
    ours, theirs = _steps(dialplan, context, exten), _steps(lab, context, exten)
    if upto is not None:
        ours, theirs = ours[:upto], theirs[:upto]
    assert ours == theirs


def test_inbound_runs_the_lab_steps_with_the_ivr_for_every_dnis(dialplan: Dialplan) -> None:
    """The lab ran the IVR only for DNIS 801...; the product asks the IVR for every call (it picks the flow
    by DNIS) and then sends the IVR's transfer / voicemail / callback outcomes to cc-exit. Everything else
    is the lab's, step for step."""
    lab = [s for s in _steps(read_dialplan(LAB), contract.INBOUND_CONTEXT, "8015550100") if s[1] != "GotoIf"]
    ours = _steps(dialplan, contract.INBOUND_CONTEXT, "8015550100")
    outcomes = [s for s in ours if s[1] == "GotoIf"]
    assert [data.rsplit("?", 1)[1] for _, _, data, _ in outcomes] == [
        f"{contract.EXIT_CONTEXT},{e},1" for e in (contract.EXIT_TRANSFER, contract.EXIT_VOICEMAIL,
                                                    contract.EXIT_CALLBACK)]
    ours = [s for s in ours if s[1] != "GotoIf"]
    assert [(app, data, label) for _, app, data, label in ours] == [(app, data, label) for _, app, data, label in lab]
    assert _steps(dialplan, contract.INBOUND_CONTEXT, "+18005550100") == [(1, "Goto", "${EXTEN:1},1", None)]


# ---- the command line ---------------------------------------------------------------------------------

def test_cli_renders_checks_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    for name in [n for n in __import__("os").environ if n.startswith("CALLCENTER")]:
        monkeypatch.delenv(name)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    assert main(["asterisk", "config", "--out", str(tmp_path / "etc")]) == 0
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == sorted(p.name for p in TEMPLATES.glob("*.conf"))
    assert main(["asterisk", "check", str(tmp_path / "etc")]) == 0
    (tmp_path / "etc" / "modules.conf").unlink()
    assert main(["asterisk", "check", str(tmp_path / "etc")]) == 1
    monkeypatch.delenv("PHONE_AGENT1001_PASSWORD")
    assert main(["asterisk", "config", "--out", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert "modules.conf: missing" in err
    assert "agent1001: password (PHONE_AGENT1001_PASSWORD): not set" in err
    assert not (tmp_path / "other").exists()


def test_phone_context_follows_the_role() -> None:
    assert Phone("a1", "A", "1", "agent", "P").context == contract.AGENT_PHONE_CONTEXT
    assert Phone("s1", "S", "2", "supervisor", "P").context == contract.SUPERVISOR_PHONE_CONTEXT
