-- Migrate treats "can't drop, check that it exists" (1091) as already done
-- (MySQL has no DROP COLUMN IF EXISTS).
ALTER TABLE {{.Prefix}}credentials DROP COLUMN second_factor_only;
