"""The /stream/interaction socket, one room per job.

consumer (parse → session → send) · messages (client frames, validated once) · session (control
flow) · audio_in (decoding) · endpointing (pure voice/utterance decisions) · relay (ASR task and
partial throttling) · outbox (numbering, sending, batched storing) · tasks · limits · errors.
"""
