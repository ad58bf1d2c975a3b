-- The CA operator's text on an unlock request: with needs_materials what to attach,
-- with rejected the reason.
ALTER TABLE unlock_tickets ADD COLUMN note TEXT;

-- Scans a holder attached to an unlock request under review (at most 5, 5 MiB each,
-- PDF, JPEG or PNG by content). They go with their request when it is pruned.
CREATE TABLE unlock_attachments (
    id BIGSERIAL PRIMARY KEY,
    ticket TEXT NOT NULL REFERENCES unlock_tickets (ticket) ON DELETE CASCADE,
    file_name TEXT NOT NULL,
    -- pdf, jpeg or png (sniffed from the content).
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    -- SHA-256 of data, lowercase hex.
    sha256 TEXT NOT NULL,
    data BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX unlock_attachments_ticket ON unlock_attachments (ticket);
