CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, balance INTEGER NOT NULL);
INSERT INTO accounts (id, email, balance) VALUES (1, 'seed@example.com', 100);
