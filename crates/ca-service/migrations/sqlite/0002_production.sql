-- Keys produced by the CA: their SO PIN and initial user PIN, sealed with the data key.
CREATE TABLE tokens (
    serial TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    so_pin BLOB NOT NULL,
    initial_pin BLOB NOT NULL,
    handler_name TEXT NOT NULL,
    handler_id TEXT NOT NULL,
    handler_phone TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Enrollment orders. The activation code is kept only as a keyed MAC with its salt.
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    token_serial TEXT NOT NULL REFERENCES tokens (serial),
    holder TEXT NOT NULL,
    org TEXT,
    cert_type TEXT NOT NULL,
    years INTEGER NOT NULL,
    days INTEGER,
    key_algorithm TEXT NOT NULL,
    code_salt BLOB NOT NULL,
    code_mac BLOB NOT NULL,
    code_expires_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    activation_id TEXT UNIQUE,
    certificate_serial TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX orders_token ON orders (token_serial);

-- Every certificate issued.
CREATE TABLE certificates (
    serial TEXT PRIMARY KEY,
    token_serial TEXT NOT NULL,
    order_id TEXT,
    key_algorithm TEXT NOT NULL,
    der BLOB NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX certificates_token ON certificates (token_serial);

-- Fixed-window request counters (rate limits live in the database, not in memory).
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count INTEGER NOT NULL
);
