-- The term (years) a renewal entitlement was paid for; a renewal must ask for it.
ALTER TABLE entitlements ADD COLUMN years BIGINT NOT NULL DEFAULT 1;
