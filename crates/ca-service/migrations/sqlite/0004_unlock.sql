-- The SO PIN a key is being rotated to: kept beside the current one until the client
-- confirms, so no SO PIN is ever lost.
ALTER TABLE tokens ADD COLUMN so_pin_next BLOB;
-- The SO PIN before the last committed rotation, for recovery by an operator.
ALTER TABLE tokens ADD COLUMN so_pin_prev BLOB;

-- Unlock requests.
CREATE TABLE unlock_tickets (
    ticket TEXT PRIMARY KEY,
    token_serial TEXT NOT NULL REFERENCES tokens (serial),
    certificate_serial TEXT NOT NULL,
    client_key BLOB NOT NULL,
    handler_match BIGINT NOT NULL,
    -- The pending SO PIN (sealed) this ticket hands out; its confirm commits only that one.
    released_next BLOB,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE INDEX unlock_tickets_token ON unlock_tickets (token_serial);
