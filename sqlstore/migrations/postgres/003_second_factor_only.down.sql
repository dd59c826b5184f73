ALTER TABLE {{.Prefix}}credentials DROP COLUMN IF EXISTS second_factor_only;
