DROP TABLE password_resets;
ALTER TABLE users DROP COLUMN token_generation;
