"""ASR tests use the session fixtures of tests/conftest.py (asr_server, speech_clip)."""
