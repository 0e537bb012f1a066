"""MixMonitor in the simulated PBX: the AMI events Asterisk sends, and a real WAV file on disk.

Events as the traces show them (f-mixmonitor, f2-dialplan-mixmonitor): `VarSet MIXMONITOR_FILENAME`, then
`MixMonitorStart`; `MixMonitorStop` only for the StopMixMonitor action (a recording ended by the hangup
sends nothing). The file is what Asterisk writes for a `.wav` name: 8 kHz, mono, 16-bit PCM. Its sound
is made up (no audio flows in the simulator): a quiet tone, one short beep a second, so that a player
shows it is not empty. With option `b` only the bridged time is recorded.

Asterisk writes into its own folder (`/var/spool/asterisk/monitor/...`); the simulator writes the same
file name into the local `folder` it is given (the recordings volume a real deployment shares).
Writing runs off the event loop (`submit`); the tests write at once.
"""

from __future__ import annotations

import logging
import math
import struct
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from callcenter.simulator.channels import Channel
from cti import contract

if TYPE_CHECKING:
    from callcenter.simulator.pbx import Pbx

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
Submit = Callable[[Callable[[], None]], None]


def _one_second() -> bytes:
    """A second of sound: a 100 ms 440 Hz beep, then a quiet 220 Hz hum."""
    samples = []
    for n in range(SAMPLE_RATE):
        if n < SAMPLE_RATE // 10:
            value = 6000 * math.sin(2 * math.pi * 440 * n / SAMPLE_RATE)
        else:
            value = 300 * math.sin(2 * math.pi * 220 * n / SAMPLE_RATE)
        samples.append(int(value))
    return struct.pack(f"<{SAMPLE_RATE}h", *samples)


_SECOND = _one_second()


def write_wav(path: Path, seconds: float) -> None:
    """A mono 16-bit 8 kHz WAV of `seconds` (rounded to the sample)."""
    frames = max(int(seconds * SAMPLE_RATE), 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        whole, rest = divmod(frames, SAMPLE_RATE)
        for _ in range(whole):
            out.writeframes(_SECOND)
        out.writeframes(_SECOND[: rest * 2])


@dataclass
class _Running:
    file: str  # as the dialplan named it
    started_at: float
    bridged_only: bool
    recorded: float = 0.0  # seconds counted so far (bridged time with option b)
    counting_since: float | None = None


class Recorder:
    def __init__(self, folder: Path | None, submit: Submit | None = None) -> None:
        self.folder = folder  # None: events only, no files
        self.submit: Submit = submit or (lambda work: work())
        self._running: dict[str, _Running] = {}  # by channel Uniqueid
        self.written: list[Path] = []

    def start(self, pbx: Pbx, channel: Channel, file: str, options: str) -> None:
        pbx.var_set(channel, contract.VAR_MIXMONITOR_FILENAME, file)
        pbx.channel_event("MixMonitorStart", channel)
        now = pbx.clock.now()
        bridged_only = "b" in options
        counting = now if (not bridged_only or channel.bridge is not None) else None
        self._running[channel.uniqueid] = _Running(file, now, bridged_only, counting_since=counting)

    def bridged(self, channel: Channel, now: float) -> None:
        running = self._running.get(channel.uniqueid)
        if running is not None and running.counting_since is None:
            running.counting_since = now

    def unbridged(self, channel: Channel, now: float) -> None:
        running = self._running.get(channel.uniqueid)
        if running is not None and running.bridged_only and running.counting_since is not None:
            running.recorded += now - running.counting_since
            running.counting_since = None

    def stop(self, pbx: Pbx, channel: Channel, *, by_action: bool) -> bool:
        """End the channel's recording; True if there was one."""
        running = self._running.pop(channel.uniqueid, None)
        if running is None:
            return False
        now = pbx.clock.now()
        if running.counting_since is not None:
            running.recorded += now - running.counting_since
        if by_action:
            pbx.channel_event("MixMonitorStop", channel)
        if self.folder is not None:
            target = self.folder / PurePosixPath(running.file).name
            seconds = running.recorded

            def work() -> None:
                write_wav(target, seconds)
                self.written.append(target)

            self.submit(work)
        return True

    def save(self, file: str, seconds: float) -> None:
        """A file recorded by other means than MixMonitor (Record(): a voicemail)."""
        if self.folder is None:
            return
        target = self.folder / PurePosixPath(file).name

        def work() -> None:
            write_wav(target, seconds)
            self.written.append(target)

        self.submit(work)

    def recording(self, channel: Channel) -> bool:
        return channel.uniqueid in self._running
