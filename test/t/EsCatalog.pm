# Shared by the Perl TAP tests that compare the extension's catalog objects
# between databases (test/t/006_upgrade.pl, test/t/012_upgrade_matrix.pl).
#
#   use FindBin; use lib $FindBin::RealBin;   # scripts/test.sh runs prove without -I test/t
#   use EsCatalog qw(catalog line_diff same_catalog same_text);
#
#   catalog($node, $db)       the catalog lines of $db (the query below)
#   line_diff($got, $want)    lines only in $want ("- ") or only in $got ("+ ")
#   same_catalog($got, $want, $name [, $want_label, $got_label])
#                             is(), with that diff on failure
#   same_text($got, $want, $name, $what [, $want_label, $got_label])
#                             the same for any line-oriented text ($what names the lines)
package EsCatalog;

use strict;
use warnings;
use Exporter 'import';
use Test::More;

our @EXPORT_OK = qw($catalog_sql catalog line_diff same_catalog same_text);

# Everything about the extension's objects, as sorted text lines without
# OIDs: one line per object or property, "section key: details".  ACLs are
# compared as effective privileges (a NULL ACL as its acldefault), sorted.  Columns
# are compared by their position among the live columns (attnum order,
# dropped columns left out): an upgrade that drops a column keeps a dropped
# attribute a fresh install doesn't have, which no query, dump or restore can
# see, while the order of the live columns is what SELECT * and pg_dump show.
# Column options leave out pg_attver: this server build stamps every column
# it creates with one, a value that differs between databases by nature.
our $catalog_sql = q{
WITH ext AS (SELECT e.* FROM pg_extension e WHERE e.extname = 'event_streaming'),
nsp AS (SELECT n.oid FROM pg_namespace n WHERE n.nspname = 'es'),
members AS (
  SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
   WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
rels AS (SELECT c.* FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM nsp)),
lines (section, key, body) AS (
  SELECT 'extension', extname::text,
         concat_ws(' ', 'version=' || extversion, 'relocatable=' || extrelocatable,
                   'schema=' || extnamespace::regnamespace, 'owner=' || extowner::regrole,
                   'comment=' || obj_description(ext.oid, 'pg_extension'))
    FROM ext
  UNION ALL
  SELECT 'extconfig', u.cfg::regclass::text, 'condition=' || coalesce(u.cond, '<null>')
    FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(cfg, cond)
  UNION ALL
  SELECT 'member', pg_describe_object(classid, objid, objsubid), '' FROM members
  UNION ALL
  SELECT 'schema', n.nspname::text,
         concat_ws(' ', 'owner=' || n.nspowner::regrole,
                   'acl=' || (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(coalesce(n.nspacl, acldefault('n', n.nspowner))) a))
    FROM pg_namespace n WHERE n.oid = (SELECT oid FROM nsp)
  UNION ALL
  SELECT 'default_acl', coalesce(d.defaclrole::regrole::text, '-') || ' ' || d.defaclobjtype::text,
         (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(d.defaclacl) a)
    FROM pg_default_acl d WHERE d.defaclnamespace = (SELECT oid FROM nsp)
  UNION ALL
  SELECT 'relation', c.relname::text,
         concat_ws(' ', 'kind=' || c.relkind::text, 'persistence=' || c.relpersistence::text,
                   'am=' || coalesce(am.amname::text, '-'), 'owner=' || c.relowner::regrole,
                   'options=' || coalesce((SELECT string_agg(o, ',' ORDER BY o) FROM unnest(c.reloptions) o), '-'),
                   'acl=' || (SELECT string_agg(a::text, ',' ORDER BY a::text)
                              FROM unnest(coalesce(c.relacl, acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))) a),
                   'replident=' || c.relreplident::text, 'rls=' || c.relrowsecurity || '/' || c.relforcerowsecurity,
                   'partition=' || c.relispartition, 'type=' || coalesce(nullif(c.reloftype, 0)::regtype::text, '-'))
    FROM rels c LEFT JOIN pg_am am ON am.oid = c.relam
  UNION ALL
  SELECT 'column', c.relname || '.' || lpad((row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum))::text, 3, '0'),
         concat_ws(' ', quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),
                   CASE WHEN a.attnotnull THEN 'NOT NULL' END,
                   'DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid),
                   CASE WHEN a.attidentity::text <> '' THEN 'IDENTITY ' || a.attidentity::text END,
                   CASE WHEN a.attgenerated::text <> '' THEN 'GENERATED ' || a.attgenerated::text END,
                   CASE WHEN a.attcollation <> t.typcollation THEN 'COLLATE ' || co.collname END,
                   'storage=' || a.attstorage::text, 'compression=' || nullif(a.attcompression::text, ''),
                   'stats=' || a.attstattarget,
                   'options=' || (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg_attver=%'),
                   'acl=' || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(a.attacl) x))
    FROM rels c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_collation co ON co.oid = a.attcollation
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
   WHERE c.relkind::text IN ('r', 'p', 'v', 'm', 'c', 'f')
  UNION ALL
  SELECT 'constraint', coalesce(nullif(co.conrelid, 0)::regclass::text, co.contypid::regtype::text) || ' ' || co.conname,
         co.contype::text || ' ' || pg_get_constraintdef(co.oid)
         || CASE WHEN co.condeferrable THEN ' deferrable' ELSE '' END
         || CASE WHEN co.condeferred THEN ' deferred' ELSE '' END
    FROM pg_constraint co WHERE co.connamespace = (SELECT oid FROM nsp)
  UNION ALL
  SELECT 'index', i.indexrelid::regclass::text,
         pg_get_indexdef(i.indexrelid)
         || concat_ws(' ', '', CASE WHEN i.indisclustered THEN 'clustered' END,
                      CASE WHEN NOT i.indisvalid THEN 'invalid' END,
                      CASE WHEN i.indisreplident THEN 'replident' END)
    FROM pg_index i JOIN rels c ON c.oid = i.indrelid
  UNION ALL
  SELECT 'view', c.relname::text, regexp_replace(pg_get_viewdef(c.oid, true), '\s+', ' ', 'g')
    FROM rels c WHERE c.relkind::text IN ('v', 'm')
  UNION ALL
  SELECT 'trigger', t.tgrelid::regclass || ' ' || t.tgname, pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
    FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'rule', r.ev_class::regclass || ' ' || r.rulename, regexp_replace(pg_get_ruledef(r.oid, true), '\s+', ' ', 'g')
    FROM pg_rewrite r JOIN rels c ON c.oid = r.ev_class WHERE r.rulename <> '_RETURN'
  UNION ALL
  SELECT 'policy', p.tablename || ' ' || p.policyname, p::text FROM pg_policies p WHERE p.schemaname = 'es'
  UNION ALL
  SELECT 'statistics', s.stxname::text, pg_get_statisticsobjdef(s.oid)
    FROM pg_statistic_ext s WHERE s.stxnamespace = (SELECT oid FROM nsp)
  UNION ALL
  SELECT 'sequence', s.seqrelid::regclass::text,
         concat_ws(' ', format_type(s.seqtypid, NULL), 'start=' || s.seqstart, 'increment=' || s.seqincrement,
                   'min=' || s.seqmin, 'max=' || s.seqmax, 'cache=' || s.seqcache, 'cycle=' || s.seqcycle,
                   'owned_by=' || (SELECT string_agg(pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid), ',')
                                     FROM pg_depend d
                                    WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
                                      AND d.deptype IN ('a', 'i') AND d.refclassid = 'pg_class'::regclass))
    FROM pg_sequence s JOIN rels c ON c.oid = s.seqrelid
  UNION ALL
  SELECT 'function', p.oid::regprocedure::text,
         concat_ws(' | ', 'kind=' || p.prokind::text, 'args=' || pg_get_function_arguments(p.oid),
                   'result=' || pg_get_function_result(p.oid), 'lang=' || l.lanname,
                   'volatile=' || p.provolatile::text, 'parallel=' || p.proparallel::text, 'strict=' || p.proisstrict,
                   'secdef=' || p.prosecdef, 'leakproof=' || p.proleakproof, 'cost=' || p.procost,
                   'rows=' || p.prorows, 'support=' || p.prosupport::regproc,
                   'config=' || coalesce(array_to_string(p.proconfig, ','), '-'),
                   'src=' || regexp_replace(p.prosrc, '\s+', ' ', 'g'), 'bin=' || coalesce(p.probin, '-'),
                   'owner=' || p.proowner::regrole,
                   'acl=' || (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(coalesce(p.proacl, acldefault('f', p.proowner))) a))
    FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.pronamespace = (SELECT oid FROM nsp)
  UNION ALL
  SELECT 'functiondef', p.oid::regprocedure::text, regexp_replace(pg_get_functiondef(p.oid), '\s+', ' ', 'g')
    FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM nsp) AND p.prokind::text IN ('f', 'p')
  UNION ALL
  SELECT 'type', t.typname::text,
         concat_ws(' ', 'type=' || t.typtype::text, 'category=' || t.typcategory::text,
                   'relkind=' || coalesce(c.relkind::text, '-'),
                   'base=' || CASE WHEN t.typbasetype <> 0 THEN format_type(t.typbasetype, t.typtypmod) END,
                   'notnull=' || t.typnotnull, 'default=' || t.typdefault,
                   'elem=' || nullif(t.typelem, 0)::regtype, 'array=' || nullif(t.typarray, 0)::regtype,
                   'owner=' || t.typowner::regrole,
                   'acl=' || (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(coalesce(t.typacl, acldefault('T', t.typowner))) a),
                   'labels=' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid))
    FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid WHERE t.typnamespace = (SELECT oid FROM nsp)
  UNION ALL
  SELECT 'init_privs', pg_describe_object(ip.classoid, ip.objoid, ip.objsubid),
         ip.privtype::text || ' ' || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(ip.initprivs) a), '')
    FROM pg_init_privs ip
   WHERE (ip.classoid, ip.objoid) IN (SELECT classid, objid FROM members)
      OR (ip.classoid = 'pg_class'::regclass AND ip.objoid IN (SELECT oid FROM rels))
  UNION ALL
  SELECT 'comment', pg_describe_object(ds.classoid, ds.objoid, ds.objsubid), ds.description
    FROM pg_description ds
   WHERE (ds.classoid, ds.objoid) IN (SELECT classid, objid FROM members)
      OR (ds.classoid = 'pg_class'::regclass AND ds.objoid IN (SELECT oid FROM rels))
      OR (ds.classoid = 'pg_proc'::regclass AND ds.objoid IN (SELECT oid FROM pg_proc WHERE pronamespace = (SELECT oid FROM nsp)))
)
SELECT section || ' ' || key || ': ' || body FROM lines ORDER BY section, key, body
};

sub catalog
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, $catalog_sql);
}

# Lines only in one text or the other ("-" want only, "+" got only).
sub line_diff
{
	my ($got, $want) = @_;
	my (%g, %w);
	$g{$_}++ for split /\n/, $got;
	$w{$_}++ for split /\n/, $want;
	my @d;
	my %all = (%g, %w);
	for my $line (sort keys %all)
	{
		my $n = ($g{$line} // 0) - ($w{$line} // 0);
		push @d, ($n > 0 ? '+ ' : '- ') . $line for 1 .. abs $n;
	}
	return join "\n", @d;
}

sub same_text
{
	my ($got, $want, $name, $what, $want_label, $got_label) = @_;
	$want_label //= 'the fresh install';
	$got_label  //= 'the other database';
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	# ok(), not is(): the diff says what differs; is() would print both
	# texts whole (thousands of lines).
	return 1 if ok($got eq $want, $name);
	my @d = split /\n/, line_diff($got, $want);
	push @d, '(the same lines, in another order)' unless @d;
	splice @d, 200, @d - 200, '... and ' . (@d - 200) . ' more lines' if @d > 200;
	diag("$what only in $want_label (-) or $got_label (+):\n" . join "\n", @d);
	return 0;
}

sub same_catalog
{
	my ($got, $want, $name, $want_label, $got_label) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	return same_text($got, $want, $name, 'catalog lines', $want_label, $got_label);
}

1;
