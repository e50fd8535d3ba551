"""The /stream/interaction socket, one room per job.

consumer (parse → session; pings, rate, takeover) · messages (client frames, validated once) ·
session (decoding, the pump) · turn (pure: the streamed turn's state machine) · pauses (pure:
what the words and evidence heard mean) · endpointing (pure: voice and utterance decisions) ·
relay (the recogniser's I/O) · outbox (the learner's I/O: records, numbers, sends) · flusher
(the process's event store) · db · rate · takeover · limits · errors.
"""
