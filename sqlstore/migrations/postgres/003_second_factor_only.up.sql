-- Credential.SecondFactorOnly: a credential registered as a second factor
-- (a security key without user verification, added after a password
-- sign-in), never accepted for a usernameless sign-in. Existing credentials
-- are ordinary passkeys: false. Immutable after registration.
-- Adding a column with a constant default rewrites no rows (PostgreSQL 11+).

ALTER TABLE {{.Prefix}}credentials
    ADD COLUMN second_factor_only boolean NOT NULL DEFAULT false;
