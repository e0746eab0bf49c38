-- Hardening: sessions ended by signing out stay ended (until they would
-- have expired anyway), across restarts.
CREATE TABLE revoked_sessions (
    -- SHA-256 (hex) of the token: the token itself is never stored.
    token_hash TEXT PRIMARY KEY,
    -- Unix seconds after which the token is invalid anyway and the row can go.
    expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_sessions_expiry ON revoked_sessions (expires_at);
