# es.read_all and prepared transactions (2PC), across restarts, and on a hot
# standby.
#
# (a) Within one server lifetime: a prepared transaction that appended holds
# es.read_all back: an event committed after it (a higher position) is not
# returned, and es.settled_position() stays below the prepared transaction's
# position, until COMMIT PREPARED (its event is then returned in position
# order, followed by the later one) or ROLLBACK PREPARED (its event never
# shows, the later one does).  A prepared transaction that did not append
# (it only inserted into a user table) holds nothing back.
# (b) Restart (fast, then immediate + start, i.e. crash recovery) with
# prepared transactions pending: they survive (pg_prepared_xacts), but the
# positions they hold were published in shared memory only, so es.read_all
# and es.settled_position() refuse (SQLSTATE 55000, naming the pending
# transaction, hint pg_prepared_xacts) while one of them, prepared before
# the start, is pending in the database.  This is conservative: a prepared
# transaction that did not append also makes them refuse, since nothing
# tells it apart from one that did.  One pending in another database does
# not count.  es.read_stream and es.append work meanwhile, and positions
# handed out after the restart are higher than every earlier one.  Once all
# of them are finished, es.read_all returns every committed event in
# position order (es.events ORDER BY global_position): the events of a
# transaction committed with COMMIT PREPARED included, those of one rolled
# back excluded.  A transaction prepared after the start holds back again
# without a refusal.
# (c) On a hot standby es.read_all and es.settled_position() refuse with
# SQLSTATE 0A000 and a message saying why; es.read_stream works there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'event_streaming'
max_prepared_transactions = 5
event_streaming.databases = 'postgres'
event_streaming.naptime = '100ms'});
my $log_start = -s $node->logfile // 0;
$node->start;
my $t_start = time;

sub sq { return $node->safe_psql($_[1] // 'postgres', $_[0]); }

# The last line of the output: the result of the last statement.
sub last_line { my ($s) = @_; my @l = split /\n/, $s; return $l[-1] // ''; }

# Append one event, committed; its global position.
sub append
{
	my ($stream) = @_;
	return sq(qq{SELECT global_position FROM es.append_event('$stream', 'T', '{}')});
}

# Append one event in a transaction prepared as $gid; its global position.
sub prepare_append
{
	my ($gid, $stream) = @_;
	return last_line(sq(qq{BEGIN;
	  SELECT global_position FROM es.append_event('$stream', 'T', '{"prepared": "$gid"}');
	  PREPARE TRANSACTION '$gid';}));
}

# A prepared transaction that only inserts into a user table.
sub prepare_insert
{
	my ($gid, $id, $db) = @_;
	sq(qq{BEGIN; INSERT INTO t VALUES ($id, '$gid'); PREPARE TRANSACTION '$gid';}, $db);
}

sub xid_of { return sq(qq{SELECT transaction FROM pg_prepared_xacts WHERE gid = '$_[0]'}, $_[1]); }

# Positions es.read_all returns after $from, in the order it returns them.
sub read_all
{
	my ($from, $n) = @_;
	$n //= 1000;
	return sq(qq{SELECT coalesce(string_agg(global_position::text, ',' ORDER BY ordinality), '')
	               FROM es.read_all($from, $n) WITH ORDINALITY});
}

# Every committed event, in position order.
sub committed
{
	my ($from) = @_;
	$from //= 0;
	return sq(qq{SELECT coalesce(string_agg(global_position::text, ',' ORDER BY global_position), '')
	               FROM es.events WHERE global_position > $from});
}

# A statement's outcome: 'ok', or 'SQLSTATE|message|hint'.
my $try_sql = q{CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  h text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
  RETURN SQLSTATE || '|' || SQLERRM || '|' || h;
END $$};

sub try
{
	my ($sql, $n) = @_;
	$n //= $node;
	$sql =~ s/'/''/g;
	return $n->safe_psql('postgres', "SELECT try('$sql')");
}

my $refusal = qr/^55000\|cannot read events in global order while transaction (\d+), prepared before the server started, is pending\|Finish it with COMMIT PREPARED or ROLLBACK PREPARED \(see pg_prepared_xacts\)\.$/;

sq('CREATE EXTENSION event_streaming');
sq(q{CREATE TABLE t (id int PRIMARY KEY, note text)});
sq($try_sql);
sq('CREATE DATABASE db2');
sq(q{CREATE TABLE t (id int PRIMARY KEY, note text)}, 'db2');

# --- (a) one server lifetime
my $e1 = append('a-1');
my $e2 = append('a-1');

# A prepared transaction that did not append holds nothing back.
prepare_insert('n0', 100);
my $e3 = append('a-1');
is(read_all(0), "$e1,$e2,$e3", '(a) a prepared transaction that did not append does not hold read_all back');
is(sq('SELECT es.settled_position()'), $e3, '(a) nor the settled position');
sq(q{COMMIT PREPARED 'n0'});

# One that appended holds back what comes after it, until COMMIT PREPARED.
my $p0 = prepare_append('p0', 'pp-0');
my $e4 = append('a-1');
cmp_ok($e4, '>', $p0, "(a) the later event ($e4) has a higher position than the prepared one ($p0)");
is(read_all(0), "$e1,$e2,$e3", '(a) read_all from 0 stops before the prepared transaction: the later event is held back');
is(read_all($e3), '', '(a) read_all after the last settled event returns nothing');
my $settled = sq('SELECT es.settled_position()');
ok($settled < $p0 && $settled >= $e3, "(a) settled_position ($settled) stays below the prepared position ($p0)");
is(sq(q{SELECT string_agg(stream_offset::text, ',') FROM es.read_stream('a-1')}), '0,1,2,3',
	'(a) read_stream returns the later event');
sq(q{COMMIT PREPARED 'p0'});
is(read_all(0), "$e1,$e2,$e3,$p0,$e4", '(a) after COMMIT PREPARED read_all returns its event, then the later one');
is(sq('SELECT es.settled_position()'), $e4, '(a) settled_position moves to the last event');

# ROLLBACK PREPARED: its event never shows.
my $r0 = prepare_append('r0', 'pp-r0');
my $e5 = append('a-1');
is(read_all($e4), '', '(a) a second prepared transaction holds the next event back');
sq(q{ROLLBACK PREPARED 'r0'});
is(read_all($e4), "$e5", '(a) after ROLLBACK PREPARED the later event comes, not the rolled back one');
is(read_all(0), committed(), '(a) read_all returns exactly the committed events in position order');

# --- (b) restarts with prepared transactions pending
my $p1 = prepare_append('p1', 'pp-1');
my $e6 = append('a-1');
my $p2 = prepare_append('p2', 'pp-2');
my $e7 = append('a-1');
prepare_insert('n1', 1);
my $e8 = append('a-1');
prepare_insert('o1', 1, 'db2');
is(read_all($e5), '', '(b) before the restart: held back at p1');
my %xid = map { $_ => xid_of($_) } qw(p1 p2 n1);

$node->restart;
is(sq(q{SELECT string_agg(gid || ':' || database, ',' ORDER BY gid) FROM pg_prepared_xacts}),
	'n1:postgres,o1:db2,p1:postgres,p2:postgres', '(b) after a fast restart the prepared transactions are still there');
my $got = try('SELECT * FROM es.read_all(0, 100)');
like($got, $refusal, '(b) read_all refuses with SQLSTATE 55000, naming a transaction prepared before the start');
my ($named) = $got =~ $refusal;
ok(defined $named && grep({ $_ eq $named } values %xid), '(b) the transaction it names (' . ($named // '?') . ') is one of p1, p2, n1 of this database');
like(try('SELECT es.settled_position()'), $refusal, '(b) settled_position refuses too');
like(try("SELECT * FROM es.read_all($e8, 100)"), $refusal, '(b) from any position');
is(sq(q{SELECT string_agg(stream_offset::text, ',') FROM es.read_stream('a-1')}), '0,1,2,3,4,5,6,7',
	'(b) read_stream works');
my $e9 = append('a-1');
ok($e9 > $p2 && $e9 > $e8, "(b) append works, and the new position ($e9) is above every earlier one");

sq(q{COMMIT PREPARED 'p1'});
like(try('SELECT * FROM es.read_all(0, 100)'), $refusal, '(b) after COMMIT PREPARED p1: still refused (p2, n1 pending)');
sq(q{ROLLBACK PREPARED 'p2'});
# Conservative: n1 did not append, but nothing tells it apart from one that did.
$got = try('SELECT * FROM es.read_all(0, 100)');
like($got, $refusal, '(b) after ROLLBACK PREPARED p2: still refused while n1, which did not append, is pending');
($named) = $got =~ $refusal;
is($named, $xid{n1}, '(b) naming n1');
sq(q{COMMIT PREPARED 'n1'});
is(try('SELECT * FROM es.read_all(0, 100)'), 'ok', '(b) once all are finished read_all works (o1, pending in db2, does not count)');
my $all = read_all(0);
is($all, committed(), '(b) read_all returns every committed event in position order');
like(",$all,", qr/,$p1,/, "(b) including the event of p1 (COMMIT PREPARED, position $p1)");
unlike(",$all,", qr/,$p2,/, "(b) excluding the event of p2 (ROLLBACK PREPARED, position $p2)");
is(read_all($e5), "$p1,$e6,$e7,$e8,$e9", '(b) from before the restart on: p1, then the events committed after it');
is(sq('SELECT es.settled_position()'), $e9, '(b) settled_position is the last event');
is(sq('SELECT string_agg(id::text, \',\' ORDER BY id) FROM t'), '1,100', '(b) n0 and n1 inserted their rows');

# A transaction prepared after the start holds back, without a refusal.
my $p3 = prepare_append('p3', 'pp-3');
my $e10 = append('a-1');
is(try("SELECT * FROM es.read_all($e9, 100)"), 'ok', '(b) a transaction prepared after the start does not make read_all refuse');
is(read_all($e9), '', '(b) it holds the later event back');
$settled = sq('SELECT es.settled_position()');
ok($settled < $p3 && $settled >= $e9, "(b) settled_position ($settled) stays below it ($p3)");

# Crash: p3 (appended) and n2 (did not) pending.
prepare_insert('n2', 2);
my $e11 = append('a-1');
my $before_crash = sq('SELECT last_value FROM es.global_position_seq');
%xid = map { $_ => xid_of($_) } qw(p3 n2);
$node->stop('immediate');
$node->start;
is(sq(q{SELECT string_agg(gid, ',' ORDER BY gid) FROM pg_prepared_xacts}), 'n2,o1,p3',
	'(b) after an immediate stop and crash recovery the prepared transactions are still there');
$got = try('SELECT * FROM es.read_all(0, 100)');
like($got, $refusal, '(b) after crash recovery read_all refuses (55000)');
($named) = $got =~ $refusal;
ok(defined $named && ($named eq $xid{p3} || $named eq $xid{n2}), '(b) naming p3 or n2');
is(sq(q{SELECT count(*) FROM es.read_stream('a-1')}), '11', '(b) read_stream works after crash recovery');
my $e12 = append('a-1');
ok($e12 > $before_crash && $e12 > $p3, "(b) a position handed out after the crash ($e12) is above every earlier one ($before_crash)");
sq(q{ROLLBACK PREPARED 'p3'});
$got = try('SELECT * FROM es.read_all(0, 100)');
like($got, $refusal, '(b) after ROLLBACK PREPARED p3: still refused while n2, which did not append, is pending');
($named) = $got =~ $refusal;
is($named, $xid{n2}, '(b) naming n2');
sq(q{COMMIT PREPARED 'n2'});
is(try('SELECT * FROM es.read_all(0, 100)'), 'ok', '(b) once n2 is committed read_all works');
$all = read_all(0);
is($all, committed(), '(b) read_all returns every committed event in position order');
unlike(",$all,", qr/,$p3,/, "(b) without the event of p3 (rolled back, position $p3)");
is(read_all($e9), "$e10,$e11,$e12", '(b) after the first restart\'s events: the ones committed around p3 and after the crash');
is(sq('SELECT string_agg(id::text, \',\' ORDER BY id) FROM t'), '1,2,100', '(b) n2 inserted its row');
sq(q{COMMIT PREPARED 'o1'}, 'db2');

# --- (c) hot standby
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
my $e13 = append('a-1');
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', '(c) the standby is in recovery');
is(try('SELECT * FROM es.read_all(0, 100)', $standby),
	'0A000|cannot read events in global order during recovery|Read in global order on the primary; es.read_stream works on a standby.',
	'(c) read_all on the standby refuses with SQLSTATE 0A000');
like(try('SELECT es.settled_position()', $standby), qr/^0A000\|cannot read events in global order during recovery\|/,
	'(c) so does settled_position');
my $stream_sql = q{SELECT string_agg(global_position::text, ',' ORDER BY stream_offset) FROM es.read_stream('a-1')};
is($standby->safe_psql('postgres', $stream_sql), sq($stream_sql), '(c) read_stream works on the standby and returns what the primary has');
is(read_all($e12), "$e13", '(c) read_all works on the primary');
$standby->stop;

my @errors = grep { /\b(ERROR|PANIC):/ } split /\n/, slurp_file($node->logfile, $log_start);
is(join("\n", @errors), '', 'the primary log has no ERROR');
note sprintf('test body took %.1f s', time - $t_start);
$node->stop;
done_testing();
