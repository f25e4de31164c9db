-- Data written through the 0.6.0 API (see data-0.1.0.sql): 0.5.0's.  0.6.0
-- added no table; its append-only guard is exercised by every later write.
\ir data-0.5.0.sql
