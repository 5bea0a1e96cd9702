-- PostgreSQL twin of ../004_sessions.sql: the same tables, columns and defaults, in PostgreSQL's
-- spelling (DOUBLE PRECISION for DOUBLE; JSON stays json, which keeps the text as written).
-- Browser sessions of raters and admins, and a few deployment settings.

-- A login link is exchanged once for a session id the browser keeps (a cookie), so a reload
-- keeps the rater signed in without the login token in the address bar. Only a hash of the
-- session id is stored. A session counts only while its rater is enabled and still has the
-- login token it was opened with (a new link ends it); disabling a rater deletes their sessions.
CREATE TABLE rater_sessions (
    session_hash  VARCHAR PRIMARY KEY,      -- sha256 of the session id; never the id
    rater_id      VARCHAR NOT NULL,
    token_hash    VARCHAR NOT NULL,         -- the rater's token hash when the session began
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    expires_at    TIMESTAMP NOT NULL
);

-- Small key/value facts about this deployment, e.g. the address `judge-app serve` listens on
-- (so `judge-app raters add` prints links that work).
CREATE TABLE app_settings (
    key           VARCHAR PRIMARY KEY,
    value         VARCHAR NOT NULL,
    updated_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);
