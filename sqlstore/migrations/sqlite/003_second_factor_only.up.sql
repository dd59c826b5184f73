-- Credential.SecondFactorOnly: a credential registered as a second factor
-- (a security key without user verification, added after a password
-- sign-in), never accepted for a usernameless sign-in. Existing credentials
-- are ordinary passkeys: 0 (false). Immutable after registration.

ALTER TABLE {{.Prefix}}credentials
    ADD COLUMN second_factor_only INTEGER NOT NULL DEFAULT 0;
