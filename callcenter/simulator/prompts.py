"""How long the simulated PBX takes to play a prompt (Asterisk's sound files are not played, only timed).

Lengths measured in the traces where a trace shows one; any other prompt takes a second.
"""

from __future__ import annotations

SAMPLE_RATE = 8000  # AGI's endpos counts 8 kHz samples
DEFAULT_SECONDS = 1.0
SAY_DIGIT_SECONDS = 0.82  # s: SAY DIGITS 1234 took 3.3 s (trace s); SayNumber is timed the same
MEASURED = {
    "hello-world": 11234 / SAMPLE_RATE,  # s: STREAM FILE endpos=11234
    "vm-goodbye": 0.86,  # m: Playback(vm-goodbye) took 0.86 s
    "beep": 0.25,
}


def prompt_seconds(name: str) -> float:
    return MEASURED.get(name.strip(), DEFAULT_SECONDS)
