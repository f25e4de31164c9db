-- Data written through the 0.3.0 API (see data-0.1.0.sql): 0.2.0's, then
-- stream, category and queue settings, a stream trimmed by retention, a
-- setting reset.  No max_age and no queue max_count: the pg_regress suite
-- sweeps with a clock years ahead, and no sweep may find anything of ours
-- to remove.
-- Tables: + es.stream_settings (es.stream_catalog.truncated_before, the new
-- es.queues columns).
\ir data-0.2.0.sql

SELECT es.configure('upglog-1', max_count => 2);
SELECT es.configure('upgorder-2', max_count => 10);
SELECT es.reset_configuration('upgorder-2');
SELECT es.configure('upgorder-1', max_count => 100);
SELECT es.configure_category('upgcart', max_count => 50);
SELECT es.configure_category('upgjob', max_count => 1000);
SELECT es.configure('upgwork', retry_delay => '2 seconds', retry_delay_max => '1 minute', dead_letter_max_count => 10);
SELECT es.configure('upgmail', max_deliveries => 2, visibility_timeout => '2 hours', dead_letter_max_count => 5);
SELECT es.append('upglog-1', 'Line', '7', NULL, 5);
-- Retention trims upglog-1 to its newest 2 events (truncated_before 5).
SELECT pass, name, affected FROM es.sweep() ORDER BY pass, name;
SELECT pass, name, affected FROM es.sweep_redelivery();
SELECT pass, name, affected FROM es.sweep_retention();

SELECT * FROM es.configuration WHERE name LIKE 'upg%' ORDER BY scope, name;
SELECT stream, truncated_before FROM es.stream_catalog WHERE stream LIKE 'upg%' ORDER BY stream;
