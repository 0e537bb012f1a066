"""Prompt uploads: WAV and MP3 converted to what Asterisk plays, listed, and known to the flow check."""

from __future__ import annotations

import asyncio
import io
import math
import shutil
import struct
import wave
from pathlib import Path

import pytest

from ivr.loader import FlowInvalid, parse_flow
from ivr.prompts import PromptError, PromptStore


def _tone(rate: int = 44100, seconds: float = 0.5, channels: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate))) * channels
                          for n in range(int(rate * seconds)))
        w.writeframes(frames)
    return out.getvalue()


async def test_a_wav_upload_becomes_8khz_mono_wav_and_sln16(tmp_path: Path) -> None:
    store = PromptStore(tmp_path)
    info = await asyncio.to_thread(store.convert, "welcome", _tone(), "Welcome.WAV")  # off the event loop
    assert (info.name, info.seconds) == ("custom/welcome", 0.5)
    with wave.open(str(tmp_path / "welcome.wav"), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    assert (tmp_path / "welcome.sln16").stat().st_size == 16000 * 2 // 2  # 0.5 s of 16 kHz 16-bit
    assert [p.name for p in store.list()] == ["custom/welcome"]
    assert store.exists("custom/welcome") and store.exists("hello-world") and not store.exists("custom/nope")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="MP3 needs ffmpeg (Debian package ffmpeg)")
async def test_an_mp3_upload_is_converted(tmp_path: Path) -> None:
    import subprocess

    source = tmp_path / "in.wav"
    source.write_bytes(_tone())
    mp3 = tmp_path / "in.mp3"
    await asyncio.to_thread(subprocess.run, ["ffmpeg", "-loglevel", "error", "-i", str(source), str(mp3)], check=True)
    store = PromptStore(tmp_path / "prompts")
    info = await asyncio.to_thread(store.convert, "hold", mp3.read_bytes(), "hold.mp3")
    assert info.name == "custom/hold" and 0.4 < info.seconds < 0.7


@pytest.mark.parametrize("name, data, filename, message", [
    ("Bad Name", b"", "x.wav", "'Bad Name' is no prompt name (a-z, 0-9, _ and -, up to 64)"),
    ("ok", b"RIFF", "x.ogg", "'x.ogg': only .wav and .mp3 files are accepted"),
])
def test_refused_uploads(tmp_path: Path, name: str, data: bytes, filename: str, message: str) -> None:
    with pytest.raises(PromptError) as caught:
        PromptStore(tmp_path).convert(name, data, filename)
    assert str(caught.value) == message


def test_not_audio_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="cannot be read as WAV"):
        PromptStore(tmp_path).convert("x", b"this is no audio", "x.wav")


def test_a_flow_naming_a_missing_prompt_fails_and_an_uploaded_one_passes(tmp_path: Path) -> None:
    store = PromptStore(tmp_path)
    text = "start: a\nnodes:\n  a: {type: hangup, prompt: custom/welcome}\n"
    with pytest.raises(FlowInvalid) as caught:
        parse_flow(text, "f.yaml", prompt_exists=store.exists)
    assert str(caught.value) == ("f.yaml:3:29: node 'a': field 'prompt': prompt 'custom/welcome' not found "
                                 "(upload it, or check the name)")
    store.convert("welcome", _tone(), "w.wav")
    assert parse_flow(text, "f.yaml", prompt_exists=store.exists).start == "a"
