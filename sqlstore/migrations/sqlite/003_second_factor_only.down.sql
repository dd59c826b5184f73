-- DROP COLUMN needs SQLite 3.35 (the package needs 3.37).
ALTER TABLE {{.Prefix}}credentials DROP COLUMN second_factor_only;
