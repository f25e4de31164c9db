# Conservation under load: producers enqueue (some in transactions that roll
# back) while consumers ack, nack (requeue, with a delay, or reject) and
# abandon leases, and now and then ack an abandoned delivery late.  After a
# drain, every committed message was acked exactly once or sits in the
# dead-letter queue: none lost, none acked twice, none delivered that was
# never committed, no delivery beyond max_deliveries.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);

my $seconds = 15;

my $node = PostgreSQL::Test::Cluster->new('conservation');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'event_streaming'
log_statement = none
max_connections = 30});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION event_streaming');
is($node->safe_psql('postgres', q{SELECT es.create_queue('cq', visibility_timeout => '1 second', max_deliveries => 3)}),
	't', 'queue created');

# The test's own ledger, written in the same transaction as each queue call.
$node->safe_psql('postgres', q{
CREATE TABLE produced (id bigint NOT NULL);
CREATE TABLE deliveries (id bigint NOT NULL, receipt uuid NOT NULL, delivery_count int NOT NULL, consumer text NOT NULL);
CREATE TABLE acked (id bigint NOT NULL, receipt uuid NOT NULL, late boolean NOT NULL DEFAULT false);
CREATE TABLE nacked (id bigint NOT NULL, receipt uuid NOT NULL, requeue boolean NOT NULL, delivery_count int NOT NULL);
CREATE TABLE abandoned (id bigint NOT NULL, receipt uuid NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE late_acks (id bigint NOT NULL, receipt uuid NOT NULL, ok boolean NOT NULL);

-- One consumer step: dequeue 1..5 messages (half the time waiting up to
-- 100 ms); ack ~80%, nack with requeue ~6%, nack with a delay and an error
-- ~3%, reject ~1%, abandon the lease ~10%.  Sometimes ack an abandoned
-- delivery late, after its lease has expired.
CREATE FUNCTION consume_step() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  m record;
  e record;
  r float8;
  ok boolean;
BEGIN
  FOR m IN SELECT * FROM es.dequeue('cq', 'c', max_messages => 1 + floor(random() * 5)::int,
                                    wait => CASE WHEN random() < 0.5 THEN interval '100 ms' ELSE interval '0' END)
  LOOP
    INSERT INTO deliveries VALUES (m.message_id, m.receipt, m.delivery_count, 'c');
    r := random();
    IF r < 0.80 THEN
      INSERT INTO acked (id, receipt) SELECT m.message_id, m.receipt WHERE es.ack('cq', m.message_id, m.receipt);
    ELSIF r < 0.86 THEN
      INSERT INTO nacked SELECT m.message_id, m.receipt, true, m.delivery_count
       WHERE es.nack('cq', m.message_id, m.receipt);
    ELSIF r < 0.89 THEN
      INSERT INTO nacked SELECT m.message_id, m.receipt, true, m.delivery_count
       WHERE es.nack('cq', m.message_id, m.receipt, delay => '100 ms', error => 'boom ' || m.delivery_count);
    ELSIF r < 0.90 THEN
      INSERT INTO nacked SELECT m.message_id, m.receipt, false, m.delivery_count
       WHERE es.nack('cq', m.message_id, m.receipt, requeue => false, error => 'rejected by test');
    ELSE
      INSERT INTO abandoned (id, receipt) VALUES (m.message_id, m.receipt);
    END IF;
  END LOOP;
  IF random() < 0.3 THEN
    FOR e IN DELETE FROM abandoned
              WHERE ctid IN (SELECT ctid FROM abandoned WHERE at < clock_timestamp() - interval '1.2 seconds'
                              LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING id, receipt
    LOOP
      ok := es.ack('cq', e.id, e.receipt);
      INSERT INTO late_acks VALUES (e.id, e.receipt, ok);
      IF ok THEN
        INSERT INTO acked VALUES (e.id, e.receipt, true);
      END IF;
    END LOOP;
  END IF;
END $$;

-- Drain: ack everything dequeued; returns how many were dequeued.
CREATE FUNCTION drain_step() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  m record;
  n int := 0;
BEGIN
  FOR m IN SELECT * FROM es.dequeue('cq', 'drain', max_messages => 100) LOOP
    INSERT INTO deliveries VALUES (m.message_id, m.receipt, m.delivery_count, 'drain');
    INSERT INTO acked (id, receipt) SELECT m.message_id, m.receipt WHERE es.ack('cq', m.message_id, m.receipt);
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;
});

# pgbench scripts.  Producers log each id in the enqueue's transaction;
# one transaction in ten rolls back, so its ids must never be delivered.
my $dir = $node->basedir;
my %scripts = (
	'producer.sql' => q{
BEGIN;
INSERT INTO produced SELECT es.enqueue('cq', jsonb_build_object('n', random()));
COMMIT;
},
	'producer_batch.sql' => q{
BEGIN;
INSERT INTO produced
SELECT * FROM es.enqueue_batch('cq', ARRAY[jsonb_build_object('n', random()), jsonb_build_object('n', random()), '{"b": 3}'::jsonb],
                               headers => '{"batch": true}', delay => '50 ms');
COMMIT;
},
	'producer_rollback.sql' => q{
BEGIN;
INSERT INTO produced SELECT es.enqueue('cq', '{"rolled_back": true}');
ROLLBACK;
},
	'consumer.sql' => q{
SELECT consume_step();
});
while (my ($f, $text) = each %scripts)
{
	PostgreSQL::Test::Utils::append_to_file("$dir/$f", $text);
}

my @conn = ('-h', $node->host, '-p', $node->port, '-n', '-T', $seconds, '-P', 5);
my ($pout, $perr, $cout, $cerr) = ('', '', '', '');
my $t0 = time;
# Producers at ~400 transactions/s in all, so the drain stays short.
my $prod = IPC::Run::start(
	[ 'pgbench', @conn, '-c', 3, '-j', 3, '-R', 400,
	  '-f', "$dir/producer.sql\@8", '-f', "$dir/producer_batch.sql\@1", '-f', "$dir/producer_rollback.sql\@1", 'postgres' ],
	'>', \$pout, '2>', \$perr, IPC::Run::timeout($seconds + 60));
my $cons = IPC::Run::start(
	[ 'pgbench', @conn, '-c', 4, '-j', 4, '-f', "$dir/consumer.sql", 'postgres' ],
	'>', \$cout, '2>', \$cerr, IPC::Run::timeout($seconds + 60));
my $prod_ok = $prod->finish;
my $cons_ok = $cons->finish;
ok($prod_ok, 'producers ran without error') or diag("producer pgbench:\n$pout\n$perr");
ok($cons_ok, 'consumers ran without error') or diag("consumer pgbench:\n$cout\n$cerr");
for ([ 'producers', $pout, $perr ], [ 'consumers', $cout, $cerr ])
{
	my ($who, $out, $err) = @$_;
	my ($tx) = $out =~ /number of transactions actually processed: (\d+)/;
	my ($failed) = $out =~ /number of failed transactions: (\d+)/;
	note sprintf('%s: %s transactions, %s failed', $who, $tx // '?', $failed // '?');
	is($failed // 0, 0, "$who: no failed transactions") or diag("$out\n$err");
	unlike($err, qr/error|abort/i, "$who: no client errors or aborts");
}
note sprintf('load phase took %.1f s', time - $t0);

# Drain: ack everything, and wait for abandoned leases and delays to run out.
$t0 = time;
my $drained = 0;
for my $round (1 .. 12)
{
	for (1 .. 2000)
	{
		last if $node->safe_psql('postgres', 'SELECT drain_step()') eq '0';
	}
	if ($node->safe_psql('postgres', q{SELECT depth FROM es.queue_stats WHERE queue = 'cq'}) eq '0')
	{
		$drained = 1;
		last;
	}
	usleep(1_500_000);
}
ok($drained, 'the queue drains to depth 0')
  or diag($node->safe_psql('postgres', q{SELECT * FROM es.queue_stats}));
note sprintf('drain took %.1f s', time - $t0);
is($node->safe_psql('postgres', q{SELECT count(*) FROM es.dequeue('cq', 'final')}), '0', 'a final dequeue finds nothing');
is($node->safe_psql('postgres', q{SELECT count(*) FROM es.messages m JOIN es.queues q USING (queue_id) WHERE q.queue = 'cq'}),
	'0', 'es.messages holds nothing for the queue');

my $totals = $node->safe_psql('postgres', q{
SELECT concat_ws(', ',
  'produced ' || (SELECT count(*) FROM produced),
  'deliveries ' || (SELECT count(*) FROM deliveries),
  'acked ' || (SELECT count(*) FROM acked),
  'of them late ' || (SELECT count(*) FROM acked WHERE late),
  'late acks refused ' || (SELECT count(*) FROM late_acks WHERE NOT ok),
  'nacked with requeue ' || (SELECT count(*) FROM nacked WHERE requeue),
  'rejected ' || (SELECT count(*) FROM nacked WHERE NOT requeue),
  'abandoned leases ' || ((SELECT count(*) FROM abandoned) + (SELECT count(*) FROM late_acks)),
  'dead-lettered ' || (SELECT count(*) FROM es.dead_letters WHERE queue = 'cq'),
  'of them max_deliveries ' || (SELECT count(*) FROM es.dead_letters WHERE queue = 'cq' AND reason = 'max_deliveries'))});
note "totals: $totals";

# A query that returns offending rows (as text), expected to return none.
sub none
{
	my ($sql, $name) = @_;
	my $rows = $node->safe_psql('postgres', "SELECT count(*) FROM ($sql) s");
	is($rows, '0', $name)
	  or diag($node->safe_psql('postgres', "SELECT s::text FROM ($sql) s LIMIT 20"));
}

cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM produced'), '>', 1000, 'the producers enqueued over 1000 messages');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM nacked'), '>', 0, 'some messages were nacked');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM es.dead_letters WHERE queue = 'cq' AND reason = 'max_deliveries'}),
	'>', 0, 'some messages ran out of deliveries');

none(q{SELECT id FROM produced GROUP BY id HAVING count(*) > 1}, 'enqueue never returned an id twice');
none(q{SELECT id FROM acked GROUP BY id HAVING count(*) > 1}, 'no message was acked twice');
none(q{SELECT p.id FROM produced p
	WHERE NOT EXISTS (SELECT FROM acked a WHERE a.id = p.id)
	  AND NOT EXISTS (SELECT FROM es.dead_letters d WHERE d.queue = 'cq' AND d.message_id = p.id)},
	'no message was lost: every committed id was acked or dead-lettered');
none(q{SELECT a.id FROM acked a JOIN es.dead_letters d ON d.queue = 'cq' AND d.message_id = a.id},
	'no message was both acked and dead-lettered');
none(q{SELECT id FROM acked WHERE id NOT IN (SELECT id FROM produced)
	UNION ALL SELECT message_id FROM es.dead_letters WHERE queue = 'cq' AND message_id NOT IN (SELECT id FROM produced)
	UNION ALL SELECT id FROM deliveries WHERE id NOT IN (SELECT id FROM produced)},
	'nothing acked, dead-lettered or delivered that was not committed (rolled-back enqueues never surface)');
none(q{SELECT message_id FROM es.dead_letters WHERE queue = 'cq' GROUP BY message_id HAVING count(*) > 1},
	'no message dead-lettered twice');

# Deliveries: each one a fresh receipt, counted 1, 2, ... up to max_deliveries.
none(q{SELECT receipt FROM deliveries GROUP BY receipt HAVING count(*) > 1}, 'every delivery has its own receipt');
none(q{SELECT id, array_agg(delivery_count ORDER BY delivery_count) FROM deliveries GROUP BY id
	HAVING min(delivery_count) <> 1 OR max(delivery_count) <> count(*) OR count(DISTINCT delivery_count) <> count(*)},
	'each message\'s deliveries are counted 1, 2, ... without gaps or repeats');
none(q{SELECT * FROM deliveries WHERE delivery_count > 3}, 'no delivery beyond max_deliveries (3)');
none(q{SELECT a.* FROM acked a
	WHERE a.receipt IS DISTINCT FROM (SELECT d.receipt FROM deliveries d WHERE d.id = a.id ORDER BY d.delivery_count DESC LIMIT 1)},
	'every successful ack used the receipt of the message\'s last delivery (stale receipts refused)');

# The dead-letter queue: reasons, counts and history.
none(q{SELECT * FROM es.dead_letters WHERE queue = 'cq'
	AND NOT ((reason = 'max_deliveries' AND delivery_count >= 3) OR reason = 'rejected')},
	'dead letters are either out of deliveries (count >= 3) or rejected');
none(q{(SELECT id FROM nacked WHERE NOT requeue EXCEPT SELECT message_id FROM es.dead_letters WHERE queue = 'cq' AND reason = 'rejected')
	UNION ALL
	(SELECT message_id FROM es.dead_letters WHERE queue = 'cq' AND reason = 'rejected' EXCEPT SELECT id FROM nacked WHERE NOT requeue)},
	'the rejected dead letters are exactly the messages nacked with requeue => false');
none(q{SELECT * FROM es.dead_letters WHERE queue = 'cq' AND reason = 'rejected' AND last_error IS DISTINCT FROM 'rejected by test'},
	'a rejected dead letter keeps the error given to nack');
none(q{SELECT d.message_id, d.delivery_count, x.n FROM es.dead_letters d
	JOIN (SELECT id, max(delivery_count) AS n FROM deliveries GROUP BY id) x ON x.id = d.message_id
	WHERE d.queue = 'cq' AND d.delivery_count <> x.n},
	'a dead letter\'s delivery count is the number of times it was delivered');
is($node->safe_psql('postgres', q{SELECT (SELECT count(*) FROM produced) = (SELECT count(*) FROM acked) + (SELECT count(*) FROM es.dead_letters WHERE queue = 'cq')}),
	't', 'produced = acked + dead-lettered');

$node->stop;
done_testing();
