-- Request counters of the rate limits (API key, company, back-office user), one row per
-- scope, subject and fixed window. Shared by every instance on the database; a request
-- is one upsert on the primary key. Windows that have ended are deleted on the way.
CREATE TABLE rate_counters (
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (scope, subject, window_start)
);
