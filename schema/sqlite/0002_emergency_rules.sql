-- The owner's changes to the default triage rules of their business:
-- extra phrases per level, and default phrases switched off.
CREATE TABLE emergency_rules (
    id          INTEGER PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    action      TEXT NOT NULL CHECK (action IN ('add', 'remove')),
    level       TEXT CHECK (level IN ('NORMAL', 'HIGH', 'URGENT')),
    phrase      TEXT NOT NULL CHECK (length(trim(phrase)) > 0),
    created_at  TEXT NOT NULL,
    UNIQUE (business_id, action, phrase),
    CHECK ((action = 'add') = (level IS NOT NULL))
);
