-- The payments' text keys compare byte by byte (collation "C"), as SQLite compares
-- every text. Under a language collation (a server created with C.UTF-8 or tr_TR.UTF-8)
-- every comparison in these columns' indexes went through the C library's strcoll and
-- index builds could not use abbreviated sort keys; identifiers, references, codes and
-- dates gain nothing from a language's order. Equality is unchanged; an ordered walk
-- over a C.UTF-8 database gives the same order as before (code-point order is UTF-8's
-- byte order). The table is not rewritten; the indexes on these columns are rebuilt.
ALTER TABLE payments
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN company_id TYPE TEXT COLLATE "C",
    ALTER COLUMN pos_id TYPE TEXT COLLATE "C",
    ALTER COLUMN status TYPE TEXT COLLATE "C",
    ALTER COLUMN currency TYPE TEXT COLLATE "C",
    ALTER COLUMN card_fingerprint TYPE TEXT COLLATE "C",
    ALTER COLUMN auth_code TYPE TEXT COLLATE "C",
    ALTER COLUMN provider_ref TYPE TEXT COLLATE "C",
    ALTER COLUMN order_ref TYPE TEXT COLLATE "C",
    ALTER COLUMN customer_ref TYPE TEXT COLLATE "C",
    ALTER COLUMN three_d_token TYPE TEXT COLLATE "C",
    ALTER COLUMN sale_client_ref TYPE TEXT COLLATE "C",
    ALTER COLUMN business_date TYPE TEXT COLLATE "C",
    ALTER COLUMN client_ip TYPE TEXT COLLATE "C",
    ALTER COLUMN card_last4 TYPE TEXT COLLATE "C";
