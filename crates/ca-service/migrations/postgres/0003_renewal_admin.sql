-- Renewal challenges: a nonce per attempt, single use, short-lived.
CREATE TABLE challenges (
    nonce TEXT PRIMARY KEY,
    certificate_serial TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0
);

-- One row per renewal request: a retry with the same request_id gets the same answer.
CREATE TABLE renewals (
    request_id TEXT PRIMARY KEY,
    old_serial TEXT NOT NULL UNIQUE,
    new_serial TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Paid renewal rights, granted through the admin API, used once.
CREATE TABLE entitlements (
    certificate_serial TEXT PRIMARY KEY,
    granted_at BIGINT NOT NULL,
    used_at BIGINT
);
