"""Prompt files: uploads (WAV or MP3) converted to what Asterisk plays, stored, listed, checked by flows.

An uploaded prompt `welcome` becomes `<folder>/welcome.wav` (8 kHz, mono, 16-bit PCM: every Asterisk
plays it) and `<folder>/welcome.sln16` (16 kHz signed linear, raw: wide-band calls play it without
resampling). The folder is Asterisk's `sounds/custom` (mounted or synced there), so a flow names the
prompt `custom/welcome`. Asterisk's own sounds (hello-world, vm-goodbye ...) are listed in
`ASTERISK_SOUNDS`; a flow naming a prompt that is neither fails its check.

Conversion uses pydub, which runs ffmpeg for MP3: call `convert` off the event loop (asyncio.to_thread).
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from ivr import model

PREFIX = "custom/"
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_SECONDS = 600

# Asterisk's core sounds (English) the shipped flows and the dialplan use; extend with settings ivr.system_prompts.
ASTERISK_SOUNDS = frozenset({
    "hello-world", "beep", "vm-goodbye", "goodbye", "invalid", "pls-hold-while-try", "thank-you-for-calling",
    "vm-enter-num-to-call", "enter-some-digits", "auth-thankyou", "agent-newlocation", "queue-thankyou",
    "silence/1", "an-error-has-occurred", "please-try-again", "transfer", "vm-intro",
})


class PromptError(ValueError):
    pass


@dataclass(frozen=True)
class PromptInfo:
    name: str        # as a flow names it: custom/<name>
    seconds: float
    bytes: int


class PromptStore:
    def __init__(self, folder: Path, system: frozenset[str] = ASTERISK_SOUNDS) -> None:
        self.folder = folder
        self.system = system

    def exists(self, name: str) -> bool:
        if name in self.system:
            return True
        if not name.startswith(PREFIX):
            return False
        stem = name[len(PREFIX):]
        return bool(NAME_RE.fullmatch(stem)) and (self.folder / f"{stem}.wav").is_file()

    def list(self) -> list[PromptInfo]:
        import wave

        found = []
        for path in sorted(self.folder.glob("*.wav")):
            try:
                with wave.open(str(path), "rb") as w:
                    seconds = w.getnframes() / w.getframerate()
            except (OSError, EOFError, wave.Error):
                continue
            found.append(PromptInfo(PREFIX + path.stem, round(seconds, 2), path.stat().st_size))
        return found

    def delete(self, name: str) -> bool:
        """Remove an uploaded prompt (`custom/<name>` or `<name>`); False if there was none."""
        stem = name[len(PREFIX):] if name.startswith(PREFIX) else name
        if not NAME_RE.fullmatch(stem):
            raise PromptError(f"{name!r} is no prompt name (a-z, 0-9, _ and -, up to 64)")
        wav = self.folder / f"{stem}.wav"
        if not wav.is_file():
            return False
        wav.unlink()  # the .wav first: exists() says no at once
        (self.folder / f"{stem}.sln16").unlink(missing_ok=True)
        return True

    def convert(self, name: str, data: bytes, filename: str) -> PromptInfo:
        """Convert an upload and store it (blocking: ffmpeg for MP3). Raises PromptError."""
        with warnings.catch_warnings():  # pydub imports audioop, deprecated since Python 3.11 (removed in 3.13)
            warnings.simplefilter("ignore", DeprecationWarning)
            from pydub import AudioSegment
            from pydub.exceptions import CouldntDecodeError

        if not NAME_RE.fullmatch(name):
            raise PromptError(f"{name!r} is no prompt name (a-z, 0-9, _ and -, up to 64)")
        if len(data) > MAX_UPLOAD_BYTES:
            raise PromptError(f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
        suffix = Path(filename).suffix.lower().lstrip(".")
        if suffix not in ("wav", "mp3"):
            raise PromptError(f"{filename!r}: only .wav and .mp3 files are accepted")
        try:
            audio = AudioSegment.from_file(io.BytesIO(data), format=suffix)
        except (CouldntDecodeError, IndexError, ValueError, OSError) as exc:
            raise PromptError(f"{filename!r} cannot be read as {suffix.upper()}: {str(exc).splitlines()[0][:200]}")\
                from None
        if audio.duration_seconds > MAX_SECONDS:
            raise PromptError(f"the prompt is longer than {MAX_SECONDS} seconds")
        self.folder.mkdir(parents=True, exist_ok=True)
        narrow = audio.set_channels(1).set_frame_rate(8000).set_sample_width(2)
        wide = audio.set_channels(1).set_frame_rate(16000).set_sample_width(2)
        wav = self.folder / f"{name}.wav"
        tmp = wav.with_suffix(".wav.part")
        with tmp.open("wb") as out:  # pydub leaves a file it opened itself open
            narrow.export(out, format="wav")
        sln = self.folder / f"{name}.sln16"
        sln_tmp = sln.with_suffix(".sln16.part")
        sln_tmp.write_bytes(wide.raw_data)
        sln_tmp.replace(sln)
        tmp.replace(wav)  # the .wav last: exists() says yes only when both are there
        return PromptInfo(PREFIX + name, round(narrow.duration_seconds, 2), wav.stat().st_size)


def prompts_used(flow: model.Flow) -> list[tuple[str, str]]:
    """(node id, prompt) for every prompt file the flow names (readouts of digits, numbers and dates aside)."""
    found = []
    for node in flow.nodes.values():
        for f in model.node_fields(type(node)):
            value = getattr(node, f.name)
            if f.metadata["kind"] == model.PROMPT and value:
                found.append((node.id, value))
            elif f.metadata["kind"] == model.PROMPTS:
                found.extend((node.id, item.value) for item in value if item.kind == "file")
    return found
