-- One electronic seal per certificate: the primary key is the rule.
CREATE TABLE seals (
    certificate_serial TEXT PRIMARY KEY REFERENCES certificates (serial),
    request_sha256 BYTEA NOT NULL,
    es_id TEXT NOT NULL,
    seal BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
