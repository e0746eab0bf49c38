-- Settings the voice channel, notifications and the owner's UI share:
-- where lead webhooks go (and the key that signs them), and how calls are
-- answered (realtime speech-to-speech, turn-by-turn gather, or auto: realtime
-- when a model is configured) with which OpenAI voice.
ALTER TABLE businesses ADD COLUMN notification_webhook_url TEXT;
ALTER TABLE businesses ADD COLUMN webhook_secret TEXT;
UPDATE businesses SET webhook_secret = lower(hex(randomblob(32))) WHERE webhook_secret IS NULL;

ALTER TABLE agent_configs ADD COLUMN voice_mode TEXT NOT NULL DEFAULT 'auto'
    CHECK (voice_mode IN ('auto', 'realtime', 'gather'));
ALTER TABLE agent_configs ADD COLUMN realtime_voice TEXT NOT NULL DEFAULT 'marin';
