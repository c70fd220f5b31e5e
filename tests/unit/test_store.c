/*
 * Unit tests of node/store: a real SQLite file in a fresh temporary
 * directory per test, real signed events from event_build.  The store does
 * not judge events, so a few tests hand it made-up ids (prefix resolution
 * needs two ids that share a prefix, which real hashes won't give cheaply).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "event.h"
#include "store.h"
/* the room's private header: the schema version a new file gets, and
 * the savepoints (tests only, in wmstore_test) */
#include "store_int.h"
#include "fixture.h"

#define T0 1700000000000ull     /* a created_at, ms */

struct fx {
	struct fx_dir d;
	struct store *s;
	struct key *k;
};

/* A built, decoded event; ev points into wire. */
struct built {
	uint8_t *wire;
	size_t len;
	struct event *ev;
};


static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fx_store_new(&f->d, "store", &f->s);
	f->k = fx_key(0x42);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	key_free(f->k);
	fx_store_remove(&f->d);
	free(f);
	return 0;
}


static struct built build(const struct event_draft *d, const struct key *k)
{
	struct fx_ev e = fx_build(d, k);
	struct built b = { e.wire, e.len, NULL };
	char why[WM_WHY_LEN];

	assert_int_equal(event_decode(b.wire, b.len, &b.ev, why), 0);
	return b;
}

static void built_free(struct built *b)
{
	event_free(b->ev);
	free(b->wire);
	b->ev = NULL;
	b->wire = NULL;
}

static struct built bulletin_of(const struct key *k, const char *group, uint64_t created, const char *title,
                                const char *text, const char *category)
{
	struct event_draft d;

	fx_draft(&d, k, KIND_BULLETIN, group, created);
	draft_str(&d, "title", title);
	draft_str(&d, "text", text);
	draft_str(&d, "category", category);
	return build(&d, k);
}

/* A bulletin of a category whose words (notice 通知) no test searches for. */
static struct built bulletin(const struct key *k, const char *group, uint64_t created, const char *title,
                             const char *text)
{
	return bulletin_of(k, group, created, title, text, "notice");
}

static struct built reply(const struct key *k, const char *group, uint64_t created, const uint8_t *to,
                          const char *text)
{
	struct event_draft d;

	fx_draft(&d, k, KIND_REPLY, group, created);
	d.nrefs = 1;
	memcpy(d.refs[0], to, WM_ID_LEN);
	draft_str(&d, "text", text);
	return build(&d, k);
}

/* --- collecting callbacks ------------------------------------------------------ */

struct seen {
	size_t n;
	int64_t seq[64];
	uint8_t id[64][WM_ID_LEN];
	int retracted[64];
	int stop_at;                /* return 7 when n reaches it (0 = never) */
};

static int seen_cb(void *ctx, const struct stored_event *e)
{
	struct seen *s = ctx;

	if (s->n < 64) {
		s->seq[s->n] = e->seq;
		memcpy(s->id[s->n], e->id, WM_ID_LEN);
		s->retracted[s->n] = e->retracted;
	}
	s->n++;
	assert_non_null(e->wire);               /* a retracted one's withheld form */
	assert_true(e->wire_len > 0);
	return s->stop_at != 0 && s->n == (size_t)s->stop_at ? 7 : 0;
}

static size_t search_n(struct store *s, const char *q, const char *group)
{
	struct seen seen;

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_search(s, q, group, 0, 0, seen_cb, &seen), 0);
	return seen.n;
}

/* --- tests ------------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	struct built b = bulletin(f->k, "gaobu.xinhua", T0, "Notice", "Water off on Monday");
	struct store_counts c;
	struct store_info info;
	struct seen seen;
	uint8_t *wire = NULL;
	size_t len = 0;

	assert_int_equal(store_has(f->s, b.ev->id), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1234), 0);
	assert_int_equal(store_has(f->s, b.ev->id), 1);
	assert_int_equal(store_get(f->s, b.ev->id, &wire, &len), 0);
	assert_int_equal(len, b.len);
	assert_memory_equal(wire, b.wire, len);
	free(wire);

	assert_int_equal(store_info(f->s, b.ev->id, &info), 0);
	assert_int_equal(info.kind, KIND_BULLETIN);
	assert_true(info.created_at == T0);
	assert_string_equal(info.group, "gaobu.xinhua");
	assert_memory_equal(info.author, f->k->pub, WM_PUB_LEN);
	assert_int_equal(info.retracted, 0);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events(f->s, NULL, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_memory_equal(seen.id[0], b.ev->id, WM_ID_LEN);

	assert_int_equal(store_counts(f->s, &c), 0);
	assert_int_equal(c.events, 1);
	assert_int_equal(c.retracted, 0);

	/* survives close and reopen */
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->d.path, &f->s, NULL), 0);
	assert_int_equal(store_has(f->s, b.ev->id), 1);
	uint8_t unknown[WM_ID_LEN] = { 1 };
	assert_int_equal(store_get(f->s, unknown, &wire, &len), WM_ENOTFOUND);
	assert_int_equal(store_info(f->s, unknown, &info), WM_ENOTFOUND);
	built_free(&b);
}

static void test_duplicate(void **state)
{
	struct fx *f = *state;
	struct built b = bulletin(f->k, "g", T0, "t", "x");
	struct store_counts c;

	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(store_insert(f->s, b.ev, 2), WM_EDUP);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_insert(f->s, b.ev, 3), WM_EDUP);   /* inside a batch too */
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_counts(f->s, &c), 0);
	assert_int_equal(c.events, 1);
	built_free(&b);
}

static int sql_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void test_migration_from_empty_file(void **state)
{
	struct fx *f = *state;
	char path[128], why[WM_WHY_LEN];
	struct store *s = NULL;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/empty.db", f->d.dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(sql_int(path, "PRAGMA user_version"), 0);
	assert_int_equal(store_open(path, &s, why), 0);
	store_close(s);
	assert_int_equal(sql_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN "
	                         "('events','refs','certs','revocations','rejected','meta','search_idx')"), 7);
	/* opening again is a no-op */
	assert_int_equal(store_open(path, &s, why), 0);
	store_close(s);
	assert_int_equal(sql_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
}

static void test_future_version_refused(void **state)
{
	struct fx *f = *state;
	char path[128], why[WM_WHY_LEN];
	struct store *s = NULL;
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/future.db", f->d.dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE x(y); PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	why[0] = '\0';
	assert_int_equal(store_open(path, &s, why), WM_ESTORE);
	assert_null(s);
	assert_non_null(strstr(why, "newer"));
	assert_non_null(strstr(why, "99"));
	assert_int_equal(sql_int(path, "PRAGMA user_version"), 99);   /* untouched */
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'events'"), 0);
}

static void test_not_a_database(void **state)
{
	struct fx *f = *state;
	char path[128], why[WM_WHY_LEN];
	struct store *s = NULL;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/junk.db", f->d.dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("this is not an SQLite database, it is a text file of some length....................\n", fp);
	fclose(fp);
	why[0] = '\0';
	assert_int_equal(store_open(path, &s, why), WM_ESTORE);
	assert_null(s);
	assert_true(strlen(why) > 0);
	snprintf(path, sizeof(path), "%s/no/such/dir/x.db", f->d.dir);
	assert_int_equal(store_open(path, &s, why), WM_ESTORE);
	assert_true(strlen(why) > 0);
}

/* Whether another process sees a lock on the file (it would have to wait
 * for it, or could not take it at all). */
static int others_see_a_lock(const char *path)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
		int fd = open(path, O_RDONLY);

		_exit(fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The daemon opens more connections (the HTTP API's readers) while its own
 * is open.  Closing any descriptor of a file drops every POSIX lock the
 * process holds on it; without sqlite's locks another process (the CLI)
 * takes the file as unused when it closes and deletes the WAL under the
 * daemon, whose later commits are lost. */
static void test_second_open_keeps_locks(void **state)
{
	struct fx *f = *state;
	struct built b = bulletin(f->k, "g", T0, "t", "x");
	struct store *s2 = NULL;
	char why[WM_WHY_LEN];

	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_true(others_see_a_lock(f->d.path));
	assert_int_equal(store_open(f->d.path, &s2, why), 0);
	assert_true(others_see_a_lock(f->d.path));
	store_close(s2);
	assert_true(others_see_a_lock(f->d.path));
	built_free(&b);
}

static void test_wal_mode(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char wal[128];
	struct built b = bulletin(f->k, "g", T0, "t", "x");

	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(sqlite3_open(f->d.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	snprintf(wal, sizeof(wal), "%s-wal", f->d.path);
	assert_int_equal(access(wal, F_OK), 0);
	assert_int_equal(store_checkpoint(f->s), 0);
	assert_int_equal(store_set_durable(f->s, 1), 0);
	assert_int_equal(store_is_durable(f->s), 1);
	assert_int_equal(store_set_durable(f->s, 0), 0);
	assert_int_equal(store_is_durable(f->s), 0);
	built_free(&b);
}

/* The query plan of sql on s, one line per step, in plan. */
static void plan_of(struct store *s, const char *sql, char *plan, size_t len)
{
	sqlite3_stmt *st = NULL;
	char q[1024];
	size_t k = 0;

	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
	assert_int_equal(sqlite3_prepare_v2(store_db(s), q, -1, &st, NULL), SQLITE_OK);
	plan[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW && k < len)
		k += (size_t)snprintf(plan + k, len - k, "%s\n", (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
}

/* A plan that reads in the query's order and can stop at its LIMIT: no
 * sort of what it found, no pass over all events. */
static void assert_plan_streams(const char *sql, const char *plan)
{
	const char *p;

	/* a sort of the RIGHT PART sorts only the rows of one created_at
	 * (by seq) as they stream past, and stops with them */
	for (p = plan; (p = strstr(p, "TEMP B-TREE")) != NULL; p++)
		if (strncmp(p, "TEMP B-TREE FOR RIGHT PART", 26) != 0)
			fail_msg("sorts what it reads:\n%s\n%s", sql, plan);
	for (p = plan; (p = strstr(p, "SCAN ")) != NULL; p++) {
		const char *eol = strchr(p, '\n');
		const char *idx = strstr(p, "USING ");
		const char *vt = strstr(p, "VIRTUAL TABLE");
		if ((vt != NULL && (eol == NULL || vt < eol)) || strncmp(p, "SCAN (subquery", 14) == 0)
			continue;               /* the search index in its order; a count's rows */
		if (idx == NULL || (eol != NULL && idx > eol) || strncmp(idx, "USING INTEGER PRIMARY KEY", 25) == 0)
			fail_msg("reads every row:\n%s\n%s", sql, plan);
	}
}

static void test_query_plans(void **state)
{
	struct fx *f = *state;
	struct store_filter flt;
	char sql[512], plan[2048];
	int v;

	for (v = 0; v < 16; v++) {
		memset(&flt, 0, sizeof(flt));
		flt.group = v & 1 ? "g" : NULL;
		flt.kind = v & 2 ? KIND_BULLETIN : 0;
		flt.newest_first = (v & 4) != 0;
		flt.except_group = v & 8 ? "network" : NULL;
		flt.limit = 50;
		assert_int_equal(store_events_sql(&flt, sql, sizeof(sql)), v);
		assert_non_null(strstr(sql, "LIMIT"));
		plan_of(f->s, sql, plan, sizeof(plan));
		/* the unfiltered arrival order reads the table itself, in order */
		if (v == 0 || v == 8)
			assert_non_null(strstr(plan, "SEARCH events USING INTEGER PRIMARY KEY (rowid>?)"));
		else
			assert_plan_streams(sql, plan);
		/* a group's or a kind's arrival order: its index, by rowid (= seq) */
		if (v == 1 || v == 9)
			assert_non_null(strstr(plan, "SEARCH events USING INDEX events_grp"
			                             " (grp=? AND rowid>?)"));
		if (v == 2 || v == 10)
			assert_non_null(strstr(plan, "SEARCH events USING INDEX events_kind"
			                             " (kind=? AND rowid>?)"));
	}
	/* an event by its id: the rows of its first 8 bytes, from events_id */
	plan_of(f->s, "SELECT seq FROM events WHERE " STORE_ID_IS("", "?1"), plan, sizeof(plan));
	assert_non_null(strstr(plan, "SEARCH events USING INDEX events_id (<expr>=?)"));
	/* the events that refer to an id: the refs rows of its first 8 bytes */
	plan_of(f->s, "SELECT seq FROM refs WHERE " STORE_REF_IS("?1"), plan, sizeof(plan));
	assert_non_null(strstr(plan, "SEARCH refs USING INDEX refs_ref (<expr>=?)"));
	/* search: the index in key order, then each match's row */
	for (v = 0; v < 12; v++) {
		static const char *const queries[] = { "诈骗", "电信诈骗", "骗" };
		char *q = NULL;

		assert_int_equal(store_search_sql(queries[v % 3], v & 4 ? "g" : NULL, v >= 8, &q), 0);
		plan_of(f->s, q, plan, sizeof(plan));
		assert_plan_streams(q, plan);
		/* a page; a count checking the text or in a group */
		if (v < 8 || v % 3 == 1 || v & 4)
			assert_non_null(strstr(plan, "SEARCH e USING INDEX events_search (search_key=?)"));
		else
			assert_null(strstr(plan, "SEARCH e"));
		free(q);
	}
}

/* The events' authors and groups as schema 11 and those before kept them:
 * each row's key and name, and the delete trigger that read the name from
 * the row (the step to 12 makes the table again, and the id's index). */
#define SCHEMA_11_ROWS                                                                          \
	"UPDATE events SET author = (SELECT key FROM authors WHERE aid = events.author),"      \
	"  grp = (SELECT name FROM grps WHERE gid = events.grp);"                               \
	"DROP TRIGGER neg_events_del; CREATE TRIGGER neg_events_del AFTER DELETE ON events BEGIN " \
	STORE_NEG_BOTH2("OLD", "wm_neg_sub", "-") " END;"                                       \
	"DROP TABLE authors; DROP TABLE grps;"

/* A store of schema 8 (the trigram index) migrates to the search index
 * with the text it held, and searches as a new one does. */
static void test_migration_search(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin(f->k, "g", T0, "反诈提醒", "警惕电信诈骗"), b = bulletin(f->k, "h", T0 + 1, "寻人", "老人走失");
	struct seen seen;
	char why[WM_WHY_LEN];
	size_t n;

	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(sqlite3_exec(store_db(f->s),
	                              SCHEMA_11_ROWS
	                              "CREATE VIRTUAL TABLE events_fts USING fts5(body, tokenize='trigram', detail=none);"
	                              "INSERT INTO events_fts (rowid, body) SELECT seq, wm_search_body(raw) FROM events;"
	                              "DROP TABLE search_idx; DROP INDEX events_search;"
	                              "ALTER TABLE events DROP COLUMN search_key; PRAGMA user_version = 8;",
	                              NULL, NULL, NULL), SQLITE_OK);
	store_close(f->s);
	f->s = NULL;
	if (store_open(f->d.path, &f->s, why) != 0)
		fail_msg("store_open: %s", why);
	assert_int_equal(sql_int(f->d.path, "SELECT count(*) FROM events WHERE search_key IS NOT NULL"), 2);
	assert_int_equal(store_search_count(f->s, "诈骗", NULL, 10, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_search_count(f->s, "老人走失", "h", 10, &n), 0);
	assert_int_equal(n, 1);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_search(f->s, "提醒 警惕", NULL, 0, 0, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	/* and its rows leave the index as new ones do */
	assert_int_equal(store_delete(f->s, a.ev->id), 0);
	assert_int_equal(store_search_count(f->s, "诈骗", NULL, 10, &n), 0);
	assert_int_equal(n, 0);
	built_free(&a);
	built_free(&b);
}

/* Widths and case are folded alike in the text and in a query (NFKC,
 * then lower case), for one character, a pair, and a longer word checked
 * against the text. */
static void test_search_fold(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin(f->k, "g", T0, "寻人", "３栋的王阿姨，７８岁，穿ＲＥＤ外套");
	struct built b = bulletin(f->k, "g", T0 + 1, "停水", "5栋 Monday");

	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(search_n(f->s, "3栋", NULL), 1);            /* a pair */
	assert_int_equal(search_n(f->s, "３栋", NULL), 1);
	assert_int_equal(search_n(f->s, "78岁", NULL), 1);           /* checked against the text */
	assert_int_equal(search_n(f->s, "７８岁", NULL), 1);
	assert_int_equal(search_n(f->s, "red", NULL), 1);            /* full width, upper case */
	assert_int_equal(search_n(f->s, "ｒｅｄ外套", NULL), 1);
	assert_int_equal(search_n(f->s, "３", NULL), 1);             /* one character */
	assert_int_equal(search_n(f->s, "５栋", NULL), 1);           /* a full-width query, half-width text */
	assert_int_equal(search_n(f->s, "ＭＯＮＤＡＹ", NULL), 1);
	assert_int_equal(search_n(f->s, "栋", NULL), 2);
	assert_int_equal(search_n(f->s, "4栋", NULL), 0);
	{
		/* a query that is not UTF-8 is still a query (ASCII folded) */
		size_t n = 1;
		char big[3 * 300 + 1] = "";
		int i;

		assert_int_equal(search_n(f->s, "MON\xff", NULL), 0);
		assert_int_equal(search_n(f->s, "\xe6\xa0", NULL), 0);
		/* 900 bytes that NFKC makes 9,900 (U+FDFA is 18 characters):
		 * refused as the long query it becomes, not expanded */
		for (i = 0; i < 300; i++)
			strcat(big, "\xef\xb7\xba");
		assert_int_equal(store_search_count(f->s, big, NULL, 10, &n), WM_EINVAL);
		assert_non_null(strstr(store_errmsg(f->s), "at most 1024 bytes"));
	}
	built_free(&a);
	built_free(&b);
}

/* The text a longer word is checked against is read from the event's raw
 * bytes (the store keeps no other copy): found as written and, where the
 * text holds it in another width, folded; a retracted event's text is
 * gone from the index (a two-character word is counted from the index
 * alone) and from the check. */
static void test_search_text_from_raw(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin(f->k, "g", T0, "提醒", "冒充客服的电信诈骗案件");
	struct built b = bulletin(f->k, "g", T0 + 1, "寻人", "３栋的王阿姨，７８岁");
	uint8_t by[WM_ID_LEN];
	size_t n = 0;

	memset(by, 0xb1, sizeof(by));
	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(search_n(f->s, "电信诈骗", NULL), 1);
	assert_int_equal(store_search_count(f->s, "电信诈骗", NULL, 10, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(search_n(f->s, "78岁", NULL), 1);            /* full width in the text */
	assert_int_equal(search_n(f->s, "3栋的王", NULL), 1);
	assert_int_equal(search_n(f->s, "电信诈骗案件", "g"), 1);
	assert_int_equal(store_retract(f->s, a.ev->id, by), 0);
	assert_int_equal(store_search_count(f->s, "电信", NULL, 10, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_search_count(f->s, "电信诈骗", NULL, 10, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(search_n(f->s, "78岁", NULL), 1);
	built_free(&a);
	built_free(&b);
}

/* The store's bytes an event against the events' own bytes, on a few
 * thousand events like the benchmarks' mix (bulletins and replies of
 * 150-450 bytes, five groups, one in ten expiring): so that a copy of the
 * text or an index that grows the store by a tenth fails here, not first
 * at a million events.  The events' bytes are the store's less those of
 * the empty store, whose ~48 tables and indexes take a page each (200 KB
 * of 4 KiB pages, 400 KB of 8 KiB: 67 or 131 bytes an event here, none
 * at 100,000).  Issue 11's target is 2x; this store is 1.91x (schema 14:
 * raw without the author's key, seq once in two indexes; BENCHMARKS.md
 * "The store at 2 x, the author's key"; schema 13 made 2.03x with 8 KiB
 * pages, 2.07x with 4 KiB, schema 12 2.10x): the bound is today's, and
 * lowers as the store does. */
/* The bytes of the store's pages in use, its WAL written back first. */
static size_t store_used(struct fx *f)
{
	assert_int_equal(sqlite3_exec(store_db(f->s), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
	return (size_t)(sql_int(f->d.path, "PRAGMA page_count") - sql_int(f->d.path, "PRAGMA freelist_count")) *
	       (size_t)sql_int(f->d.path, "PRAGMA page_size");
}

static void test_store_size(void **state)
{
	static const char chars[] = "居民注意近期冒充客服电信诈骗案件高发请勿向陌生人转账老人走失请联系物业"
	                            "小区停水通知明天上午维修水管东门快递柜已修好谢谢大家配合";
	static const char *const groups[] = { "gaobu.a", "gaobu.b", "gaobu.c", "gaobu.d", "gaobu.e" };
	struct fx *f = *state;
	struct built b, prev = { 0 };
	struct event_draft d;
	char text[512];
	size_t ev_bytes = 0, nchars = sizeof(chars) / 3, i, j, n = 3000, store_bytes, empty;

	empty = store_used(f);
	assert_int_equal(store_begin(f->s), 0);
	for (i = 0; i < n; i++) {
		size_t len = 12 + (i * 37) % 60;      /* characters */

		for (j = 0; j < len; j++)
			memcpy(text + 3 * j, chars + 3 * ((i * 7 + j * 13) % nchars), 3);
		text[3 * len] = '\0';
		if (i % 5 == 4 && prev.ev != NULL) {
			b = reply(f->k, groups[i % 5], T0 + i * 20, prev.ev->id, text);
		} else {
			fx_draft(&d, f->k, KIND_BULLETIN, groups[i % 5], T0 + i * 20);
			d.expires_at = i % 10 == 3 ? T0 + 86400000 : 0;
			draft_str(&d, "title", "社区通知");
			draft_str(&d, "text", text);
			draft_str(&d, "category", i % 2 ? "fraud" : "notice");
			b = build(&d, f->k);
		}
		assert_int_equal(store_insert(f->s, b.ev, 1), 0);
		ev_bytes += b.len;
		built_free(&prev);
		prev = b;
	}
	built_free(&prev);
	assert_int_equal(store_commit(f->s), 0);
	store_bytes = store_used(f) - empty;
	print_message("store_size: %zu events of %zu bytes on average, %zu bytes an event (%.2f x)\n",
	              n, ev_bytes / n, store_bytes / n, (double)store_bytes / (double)ev_bytes);
	assert_true(store_bytes * 100 <= ev_bytes * 193);
}

/* A category is found by its name and its labels, in its kind's words. */
static void test_search_category(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin_of(f->k, "g", T0, "提醒", "陌生来电要核实", "fraud");
	struct built b = bulletin_of(f->k, "g", T0 + 1, "钱包", "在门口捡到", "lost-found");

	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(search_n(f->s, "fraud", NULL), 1);
	assert_int_equal(search_n(f->s, "FRAUD", NULL), 1);
	assert_int_equal(search_n(f->s, "诈骗", NULL), 1);
	assert_int_equal(search_n(f->s, "防诈骗", NULL), 1);
	assert_int_equal(search_n(f->s, "失物招领", NULL), 1);
	assert_int_equal(search_n(f->s, "lost", NULL), 1);
	assert_int_equal(search_n(f->s, "天气", NULL), 0);
	built_free(&a);
	built_free(&b);
}

/* A store of schema 9 (categories not indexed, nothing folded) is
 * indexed again: its text gets the category line and the index the
 * folded pairs of all of it. */
static void test_migration_fold(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin_of(f->k, "g", T0, "提醒", "３栋陌生来电", "fraud");
	char why[WM_WHY_LEN];

	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	/* schema 9's text: the fields alone; its index: those, unfolded
	 * (this build's tokenizer folds, so the full-width pair is put in
	 * as the tokenizer of schema 9 saw it: not at all) */
	assert_int_equal(sqlite3_exec(store_db(f->s),
	                              "DROP INDEX events_search;"
	                              "CREATE TABLE search_text (key INTEGER PRIMARY KEY, seq INTEGER NOT NULL,"
	                              "  body TEXT NOT NULL);"
	                              "INSERT INTO search_text SELECT search_key, seq, '提醒' || char(10) || '陌生来电'"
	                              "  FROM events;"
	                              "INSERT INTO search_idx (search_idx) VALUES ('delete-all');"
	                              "INSERT INTO search_idx (rowid, body) SELECT key, body FROM search_text;"
	                              "PRAGMA user_version = 9;",
	                              NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(search_n(f->s, "诈骗", NULL), 0);
	assert_int_equal(search_n(f->s, "3栋", NULL), 0);
	assert_int_equal(sqlite3_exec(store_db(f->s), SCHEMA_11_ROWS, NULL, NULL, NULL), SQLITE_OK);
	store_close(f->s);
	f->s = NULL;
	if (store_open(f->d.path, &f->s, why) != 0)
		fail_msg("store_open: %s", why);
	assert_int_equal(sql_int(f->d.path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(search_n(f->s, "诈骗", NULL), 1);
	assert_int_equal(search_n(f->s, "3栋", NULL), 1);
	assert_int_equal(search_n(f->s, "陌生", NULL), 1);
	built_free(&a);
}

/* Events of one millisecond whose search keys collide: each takes a free
 * key of that millisecond, or -seq once all are taken; every one is
 * found, and deleting one leaves the others' text indexed. */
static void test_search_keys(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin(f->k, "g", T0, "走失", "one"), b = bulletin(f->k, "g", T0, "走失", "two");
	sqlite3 *db = store_db(f->s);
	char sql[512];
	size_t n;

	/* a's own key taken: a gets the next free one (the keys taken by rows
	 * of no event: kind 0, never indexed) */
	snprintf(sql, sizeof(sql), "INSERT INTO events (id, created_at, kind, grp, author, received_at, search_slot)"
	         " VALUES (randomblob(32), %lld, 0, 0, 0, 0, %lld)", (long long)T0,
	         (long long)store_search_key((sqlite3_int64)T0, a.ev->id) & ((1 << STORE_SEARCH_SLOT_BITS) - 1));
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	/* every key of the millisecond taken: b gets -seq */
	snprintf(sql, sizeof(sql), "WITH RECURSIVE k(x) AS (SELECT %lld UNION ALL SELECT x + 1 FROM k WHERE x < %lld)"
	         " INSERT INTO events (id, created_at, kind, grp, author, received_at, search_slot)"
	         " SELECT randomblob(32), %lld, 0, 0, 0, 0, x FROM k"
	         " WHERE x NOT IN (SELECT search_slot FROM events WHERE created_at = %lld AND search_slot >= 0)",
	         0LL, (1LL << STORE_SEARCH_SLOT_BITS) - 1, (long long)T0, (long long)T0);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(sql_int(f->d.path, "SELECT count(*) FROM events WHERE search_key < 0"), 1);
	assert_int_equal(store_search_count(f->s, "走失", NULL, 10, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_search_count(f->s, "two", NULL, 10, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_delete(f->s, a.ev->id), 0);
	assert_int_equal(store_search_count(f->s, "走失", NULL, 10, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_search_count(f->s, "two", NULL, 10, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_delete(f->s, b.ev->id), 0);
	assert_int_equal(store_search_count(f->s, "走失", NULL, 10, &n), 0);
	assert_int_equal(n, 0);
	built_free(&a);
	built_free(&b);
}

/* The search index rows of a transaction are written at its commit in key
 * order (one FTS5 segment, however the events came), and are there for
 * what the same transaction searches or deletes before that. */
static void test_search_in_transaction(void **state)
{
	struct fx *f = *state;
	struct built b[20];
	char title[32];
	size_t n, i;

	assert_int_equal(store_begin(f->s), 0);
	for (i = 0; i < 20; i++) {               /* newest first: keys falling */
		snprintf(title, sizeof(title), "失物 n%zu", i);
		b[i] = bulletin(f->k, "g", T0 + 100 - i, title, "text");
		assert_int_equal(store_insert(f->s, b[i].ev, 1), 0);
	}
	assert_int_equal(store_commit(f->s), 0);
	/* one segment: its leaf, the structure and the averages row */
	assert_true(sql_int(f->d.path, "SELECT count(*) FROM search_idx_data") <= 3);
	assert_int_equal(store_search_count(f->s, "失物", NULL, 100, &n), 0);
	assert_int_equal(n, 20);

	assert_int_equal(store_begin(f->s), 0);
	built_free(&b[0]);
	b[0] = bulletin(f->k, "g", T0 + 200, "失物 late", "text");
	assert_int_equal(store_insert(f->s, b[0].ev, 1), 0);
	assert_int_equal(store_delete(f->s, b[0].ev->id), 0);
	built_free(&b[1]);
	b[1] = bulletin(f->k, "g", T0 + 300, "失物 kept", "text");
	assert_int_equal(store_insert(f->s, b[1].ev, 1), 0);
	assert_int_equal(store_search_count(f->s, "kept", NULL, 10, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_commit(f->s), 0);
	/* a short word is counted from the index alone: nothing of b[0] left */
	assert_int_equal(store_search_count(f->s, "失物", NULL, 100, &n), 0);
	assert_int_equal(n, 21);
	assert_int_equal(store_search_count(f->s, "late", NULL, 10, &n), 0);
	assert_int_equal(n, 0);
	for (i = 0; i < 20; i++)
		built_free(&b[i]);
}

/* store_events through a reader, from another thread (as the HTTP API's
 * thread pool will). */
struct reader_run {
	struct store *r;
	struct seen seen;
	int rc;
};

static void *reader_thread(void *arg)
{
	struct reader_run *run = arg;

	run->rc = store_events(run->r, NULL, seen_cb, &run->seen);
	return NULL;
}

static void test_reader(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin(f->k, "g", T0, "first", "x"), b = bulletin(f->k, "g", T0 + 1, "second", "y");
	struct reader_run run;
	struct store *r = NULL;
	struct seen seen;
	pthread_t t;
	char path[128], why[WM_WHY_LEN];
	sqlite3 *db = NULL;
	FILE *fp;

	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(store_open_reader(f->d.path, &r, why), 0);
	memset(&run, 0, sizeof(run));
	run.r = r;
	assert_int_equal(pthread_create(&t, NULL, reader_thread, &run), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(run.rc, 0);
	assert_int_equal(run.seen.n, 1);
	/* no snapshot held between calls: the writer's next commit is seen */
	assert_int_equal(store_insert(f->s, b.ev, 2), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events(r, NULL, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	/* it cannot write, and its memory map stays small */
	assert_int_equal(store_meta_set(r, "k", "v"), WM_ESTORE);
	assert_int_equal(store_delete(r, a.ev->id), WM_ESTORE);
	assert_int_equal(store_has(f->s, a.ev->id), 1);
	{
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(store_db(r), "PRAGMA mmap_size", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_true(sqlite3_column_int64(st, 0) <= 64 << 20);
		sqlite3_finalize(st);
	}
	store_close(r);

	/* it never creates a store ... */
	r = NULL;
	snprintf(path, sizeof(path), "%s/none.db", f->d.dir);
	assert_int_equal(store_open_reader(path, &r, why), WM_ESTORE);
	assert_null(r);
	assert_int_equal(access(path, F_OK), -1);
	/* ... nor migrates one: an older schema is refused, and left as it is */
	snprintf(path, sizeof(path), "%s/old.db", f->d.dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE x(y); PRAGMA user_version = 6", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	why[0] = '\0';
	assert_int_equal(store_open_reader(path, &r, why), WM_ESTORE);
	assert_null(r);
	assert_non_null(strstr(why, "schema version 6"));
	assert_int_equal(sql_int(path, "PRAGMA user_version"), 6);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'events'"), 0);
	built_free(&a);
	built_free(&b);
}

static void test_search(void **state)
{
	struct fx *f = *state;
	struct built b1 = bulletin(f->k, "gaobu.a", T0, "反诈提醒", "警方提醒：近期冒充客服电信诈骗高发");
	struct built b2 = bulletin(f->k, "gaobu.b", T0 + 1000, "寻人", "老人走失，请留意");
	struct built b3 = bulletin(f->k, "gaobu.a", T0 + 2000, "Scam warning",
	                           "Callers pretending to be Customer Service ask for codes");
	struct built b4 = bulletin(f->k, "gaobu.a", T0 + 3000, "交通", "警方提醒：雨天路滑");
	struct built r1 = reply(f->k, "gaobu.a", T0 + 4000, b2.ev->id, "在菜市场见过这位老人");
	struct seen seen;
	size_t n;

	assert_int_equal(store_insert(f->s, b1.ev, 1), 0);
	assert_int_equal(store_insert(f->s, b2.ev, 1), 0);
	assert_int_equal(store_insert(f->s, b3.ev, 1), 0);
	assert_int_equal(store_insert(f->s, b4.ev, 1), 0);
	assert_int_equal(store_insert(f->s, r1.ev, 1), 0);

	assert_int_equal(search_n(f->s, "诈骗", NULL), 1);            /* two characters */
	assert_int_equal(search_n(f->s, "冒充客服", NULL), 1);        /* four */
	assert_int_equal(search_n(f->s, "电信诈骗", NULL), 1);
	assert_int_equal(search_n(f->s, "走失", NULL), 1);
	assert_int_equal(search_n(f->s, "骗", NULL), 1);              /* one character */
	assert_int_equal(search_n(f->s, "意", NULL), 1);              /* ... the last of its run */
	assert_int_equal(search_n(f->s, "反诈骗", NULL), 0);          /* its pairs, apart: checked */
	assert_int_equal(search_n(f->s, "老人", NULL), 2);            /* bulletin and reply */
	assert_int_equal(search_n(f->s, "反诈提醒", NULL), 1);        /* title is indexed */
	assert_int_equal(search_n(f->s, "诈骗 冒充", NULL), 1);       /* all words */
	assert_int_equal(search_n(f->s, "诈骗\xe3\x80\x80客服", NULL), 1);   /* ideographic space */
	assert_int_equal(search_n(f->s, "诈骗 走失", NULL), 0);
	assert_int_equal(search_n(f->s, "地震", NULL), 0);           /* no match */
	assert_int_equal(search_n(f->s, "地震预警", NULL), 0);
	assert_int_equal(search_n(f->s, "诈骗", "gaobu.a"), 1);       /* group filter */
	assert_int_equal(search_n(f->s, "诈骗", "gaobu.b"), 0);
	assert_int_equal(search_n(f->s, "走失", "gaobu.b"), 1);
	assert_int_equal(search_n(f->s, "customer service", NULL), 1);
	assert_int_equal(search_n(f->s, "CUSTOMER", NULL), 1);       /* case folded */
	assert_int_equal(search_n(f->s, "ask", NULL), 1);
	assert_int_equal(search_n(f->s, "as", NULL), 1);             /* short ASCII word */
	assert_int_equal(search_n(f->s, "\"quoted\"", NULL), 0);     /* quotes are harmless */
	assert_int_equal(search_n(f->s, "\"", NULL), 0);
	assert_int_equal(search_n(f->s, "a\"*", NULL), 0);
	assert_int_equal(search_n(f->s, "AND OR NOT", NULL), 0);     /* the index's syntax is text */
	assert_int_equal(search_n(f->s, "(as)", NULL), 0);
	{
		/* LIKE's wildcards in a query are plain characters */
		struct built w1 = bulletin(f->k, "gaobu.c", T0, "rates", "rate is 100% fixed");
		struct built w2 = bulletin(f->k, "gaobu.c", T0, "rates", "rate is 1000 fixed");

		assert_int_equal(store_insert(f->s, w1.ev, 1), 0);
		assert_int_equal(store_insert(f->s, w2.ev, 1), 0);
		assert_int_equal(search_n(f->s, "rate", "gaobu.c"), 2);
		assert_int_equal(search_n(f->s, "100%", "gaobu.c"), 1);
		assert_int_equal(search_n(f->s, "is_1", "gaobu.c"), 0);
		assert_int_equal(search_n(f->s, "1%0", "gaobu.c"), 0);
		built_free(&w1);
		built_free(&w2);
	}
	assert_int_equal(search_n(f->s, "   ", NULL), 0);

	/* newest first */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_search(f->s, "警方提醒", NULL, 0, 0, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_memory_equal(seen.id[0], b4.ev->id, WM_ID_LEN);
	assert_memory_equal(seen.id[1], b1.ev->id, WM_ID_LEN);

	/* a page, and counts up to a cap */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_search(f->s, "警方提醒", NULL, 1, 1, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_memory_equal(seen.id[0], b1.ev->id, WM_ID_LEN);
	assert_int_equal(store_search_count(f->s, "老人", NULL, 10, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_search_count(f->s, "老人", NULL, 1, &n), 0);
	assert_int_equal(n, 2);                                     /* more than 1 */
	assert_int_equal(store_search_count(f->s, "老人", "gaobu.b", 10, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_search_count(f->s, " ", NULL, 10, &n), 0);
	assert_int_equal(n, 0);

	/* a hostile query is refused, not run */
	{
		char big[1100];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(store_search(f->s, big, NULL, 0, 0, seen_cb, &seen), WM_EINVAL);
		assert_non_null(strstr(store_errmsg(f->s), "at most 1024 bytes"));
		big[1024] = '\0';
		assert_int_equal(store_search(f->s, big, NULL, 0, 0, seen_cb, &seen), 0);
		assert_int_equal(store_search(f->s, "a b c d e f g h i j k l m n o p q", NULL, 0, 0, seen_cb, &seen),
		                 WM_EINVAL);
	}

	/* a callback that stops the search */
	memset(&seen, 0, sizeof(seen));
	seen.stop_at = 1;
	assert_int_equal(store_search(f->s, "提醒", NULL, 0, 0, seen_cb, &seen), 7);
	assert_int_equal(seen.n, 1);

	built_free(&b1);
	built_free(&b2);
	built_free(&b3);
	built_free(&b4);
	built_free(&r1);
}

static void test_search_alert_fields(void **state)
{
	struct fx *f = *state;
	struct event_draft d;
	struct built a;

	fx_draft(&d, f->k, KIND_ALERT, "gaobu.a", T0);
	d.expires_at = T0 + 3600000;
	draft_str(&d, "event", "Missing person");
	draft_str(&d, "headline", "八十岁老人走失");
	draft_str(&d, "text", "身穿蓝色外套");
	draft_str(&d, "category", "Rescue");
	draft_str(&d, "urgency", "Immediate");
	draft_str(&d, "severity", "Severe");
	draft_str(&d, "certainty", "Observed");
	draft_str(&d, "area_desc", "新华村东头");
	draft_str(&d, "instruction", "请拨打派出所电话");
	draft_str(&d, "contact", "unsearchable-contact");
	a = build(&d, f->k);
	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(search_n(f->s, "走失", NULL), 1);
	assert_int_equal(search_n(f->s, "蓝色外套", NULL), 1);
	assert_int_equal(search_n(f->s, "新华村", NULL), 1);
	assert_int_equal(search_n(f->s, "派出所", NULL), 1);
	assert_int_equal(search_n(f->s, "Missing", NULL), 1);
	assert_int_equal(search_n(f->s, "unsearchable", NULL), 0);
	built_free(&a);
}

static void test_expiry(void **state)
{
	struct fx *f = *state;
	struct event_draft d;
	struct built gone, stays, later, r;
	struct store_filter flt;
	struct seen seen;
	int64_t n = -1;
	size_t count;

	fx_draft(&d, f->k, KIND_BULLETIN, "g", T0);
	d.expires_at = T0 + 1000;
	draft_str(&d, "title", "short-lived");
	draft_str(&d, "text", "expiring notice");
	draft_str(&d, "category", "notice");
	gone = build(&d, f->k);
	d.expires_at = T0 + 5000;
	later = build(&d, f->k);
	stays = bulletin(f->k, "g", T0, "forever", "expiring never");
	r = reply(f->k, "g", T0, gone.ev->id, "a reply to it");
	assert_int_equal(store_insert(f->s, gone.ev, 1), 0);
	assert_int_equal(store_insert(f->s, later.ev, 1), 0);
	assert_int_equal(store_insert(f->s, stays.ev, 1), 0);
	assert_int_equal(store_insert(f->s, r.ev, 1), 0);

	/* readers can skip what has expired before it is collected */
	memset(&flt, 0, sizeof(flt));
	flt.now = T0 + 2000;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events(f->s, &flt, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 3);

	assert_int_equal(store_collect_expired(f->s, T0 + 999, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_collect_expired(f->s, T0 + 1000, &n), 0);   /* expires_at <= now */
	assert_int_equal(n, 1);
	assert_int_equal(store_has(f->s, gone.ev->id), 0);
	assert_int_equal(store_has(f->s, later.ev->id), 1);
	assert_int_equal(store_has(f->s, stays.ev->id), 1);
	assert_int_equal(search_n(f->s, "expiring", NULL), 2);
	/* a short word is counted from the index alone: it forgot the row */
	assert_int_equal(store_search_count(f->s, "li", NULL, 10, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_collect_expired(f->s, T0 + 100000, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(search_n(f->s, "expiring", NULL), 1);
	assert_int_equal(store_search_count(f->s, "li", NULL, 10, &count), 0);
	assert_int_equal(count, 0);
	/* the reply stays, and still refers to the (gone) id */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events_referring(f->s, gone.ev->id, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	built_free(&gone);
	built_free(&later);
	built_free(&stays);
	built_free(&r);
}

static void test_retraction(void **state)
{
	struct fx *f = *state;
	struct built t = bulletin(f->k, "g", T0, "Wrong", "retractable words here");
	struct built t2 = reply(f->k, "g", T0 + 1, t.ev->id, "second words");
	uint8_t by[WM_ID_LEN], by2[WM_ID_LEN], other[WM_ID_LEN];
	struct store_info info;
	struct store_counts c;
	struct seen seen;
	uint8_t *wire = NULL;
	size_t len;

	memset(by, 0xb1, sizeof(by));
	memset(by2, 0xb2, sizeof(by2));
	memset(other, 0x77, sizeof(other));
	assert_int_equal(store_insert(f->s, t.ev, 1), 0);
	assert_int_equal(store_insert(f->s, t2.ev, 1), 0);
	assert_int_equal(search_n(f->s, "retractable", NULL), 1);
	assert_int_equal(store_retract(f->s, t.ev->id, by), 0);
	assert_int_equal(store_has(f->s, t.ev->id), 1);            /* id kept */
	assert_int_equal(store_get(f->s, t.ev->id, &wire, &len), 0);   /* withheld */
	{
		struct event *w = NULL;
		char why[WM_WHY_LEN];

		assert_int_equal(event_decode(wire, len, &w, why), 0);
		assert_int_equal(w->withheld, 1);
		assert_memory_equal(w->id, t.ev->id, WM_ID_LEN);
		event_free(w);
		free(wire);
	}
	assert_int_equal(store_info(f->s, t.ev->id, &info), 0);
	assert_int_equal(info.retracted, 1);
	assert_int_equal(info.kind, KIND_BULLETIN);
	assert_int_equal(search_n(f->s, "retractable", NULL), 0);   /* text gone */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events(f->s, NULL, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.retracted[0], 1);
	assert_int_equal(seen.retracted[1], 0);
	/* a retracted reply no longer refers to anything */
	assert_int_equal(store_retract(f->s, t2.ev->id, by2), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events_referring(f->s, t.ev->id, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 0);
	/* twice: still retracted, no error; unknown target: not found */
	assert_int_equal(store_retract(f->s, t.ev->id, by2), 0);
	assert_int_equal(store_retract(f->s, other, by), WM_ENOTFOUND);
	/* inserting the same event again is a duplicate, not a resurrection */
	assert_int_equal(store_insert(f->s, t.ev, 1), WM_EDUP);
	assert_int_equal(store_get(f->s, t.ev->id, &wire, &len), 0);
	assert_true(len < t.len);                                  /* still withheld */
	free(wire);
	assert_int_equal(store_counts(f->s, &c), 0);
	assert_int_equal(c.events, 0);
	assert_int_equal(c.retracted, 2);
	built_free(&t);
	built_free(&t2);
}

/* A made-up event with a chosen id: the store does not verify. */
static void fake(struct event *ev, const char *hexid, const uint8_t author[WM_PUB_LEN])
{
	static const uint8_t bytes[] = { 0x92, 0xc4, 0x00, 0xc4, 0x00 };

	memset(ev, 0, sizeof(*ev));
	assert_int_equal(hex_decode(ev->id, WM_ID_LEN, hexid, 64), 0);
	ev->wire = bytes;
	ev->wire_len = sizeof(bytes);
	ev->kind = KIND_REPLY;
	memcpy(ev->author, author, WM_PUB_LEN);
	ev->created_at = T0;
	snprintf(ev->group, sizeof(ev->group), "g");
}

static void test_prefix(void **state)
{
	struct fx *f = *state;
	static const char a[] = "abcdef0111111111111111111111111111111111111111111111111111111111";
	static const char b[] = "abcdef0222222222222222222222222222222222222222222222222222222222";
	static const char c[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct event ea, eb, ec;
	uint8_t id[WM_ID_LEN], want[WM_ID_LEN];

	fake(&ea, a, f->k->pub);
	fake(&eb, b, f->k->pub);
	fake(&ec, c, f->k->pub);
	assert_int_equal(store_insert(f->s, &ea, 1), 0);
	assert_int_equal(store_insert(f->s, &eb, 1), 0);
	assert_int_equal(store_insert(f->s, &ec, 1), 0);

	assert_int_equal(store_resolve_prefix(f->s, "abcdef01", 8, id), 0);
	assert_memory_equal(id, ea.id, WM_ID_LEN);
	assert_int_equal(store_resolve_prefix(f->s, "ABCDEF02", 8, id), 0);
	assert_memory_equal(id, eb.id, WM_ID_LEN);
	assert_int_equal(store_resolve_prefix(f->s, c, 64, id), 0);
	assert_memory_equal(id, ec.id, WM_ID_LEN);
	assert_int_equal(store_resolve_prefix(f->s, "0123456", 7, id), 0);      /* odd length */
	assert_memory_equal(id, ec.id, WM_ID_LEN);

	memset(want, 0x5a, sizeof(want));
	memcpy(id, want, WM_ID_LEN);
	assert_int_equal(store_resolve_prefix(f->s, "abcdef", 6, id), WM_EINVAL);
	assert_non_null(strstr(store_errmsg(f->s), "ambiguous"));
	assert_int_equal(store_resolve_prefix(f->s, "abcdef0", 7, id), WM_EINVAL);
	assert_int_equal(store_resolve_prefix(f->s, "fedcba", 6, id), WM_ENOTFOUND);
	assert_int_equal(store_resolve_prefix(f->s, "abcde", 5, id), WM_EINVAL);   /* too short */
	assert_int_equal(store_resolve_prefix(f->s, "abcdeg", 6, id), WM_EINVAL);  /* not hex */
	assert_int_equal(store_resolve_prefix(f->s, "abcdef01 ", 9, id), WM_EINVAL);
	assert_memory_equal(id, want, WM_ID_LEN);     /* untouched on failure */
}

/* Ids that share their first 8 bytes (all that events_id holds): each is
 * stored, found and told apart by the whole id in the row, and a second
 * copy of either is a duplicate; the events that refer to each (refs_ref
 * holds 8 bytes too) are told apart the same way. */
static void test_id_prefix_shared(void **state)
{
	struct fx *f = *state;
	static const char a[] = "0123456789abcdef111111111111111111111111111111111111111111111111";
	static const char b[] = "0123456789abcdef222222222222222222222222222222222222222222222222";
	struct event ea, eb;
	struct store_info ia, ib;
	struct built ra, rb;
	struct seen seen;
	uint8_t id[WM_ID_LEN];

	fake(&ea, a, f->k->pub);
	fake(&eb, b, f->k->pub);
	assert_int_equal(store_insert(f->s, &ea, 1), 0);
	assert_int_equal(store_has(f->s, eb.id), 0);
	assert_int_equal(store_lookup(f->s, eb.id, NULL, NULL), 0);
	assert_int_equal(store_insert(f->s, &eb, 1), 0);
	assert_int_equal(store_insert(f->s, &ea, 1), WM_EDUP);
	assert_int_equal(store_insert(f->s, &eb, 1), WM_EDUP);
	assert_int_equal(store_info(f->s, ea.id, &ia), 0);
	assert_int_equal(store_info(f->s, eb.id, &ib), 0);
	assert_true(ia.seq < ib.seq);
	assert_int_equal(store_resolve_prefix(f->s, a, 16, id), WM_EINVAL);
	assert_int_equal(store_resolve_prefix(f->s, b, 17, id), 0);
	assert_memory_equal(id, eb.id, WM_ID_LEN);
	/* refs_ref holds 8 bytes of each ref too: the events that refer to
	 * one id are those alone */
	ra = reply(f->k, "g", T0, ea.id, "a");
	rb = reply(f->k, "g", T0 + 1, eb.id, "b");
	assert_int_equal(store_insert(f->s, ra.ev, 1), 0);
	assert_int_equal(store_insert(f->s, rb.ev, 1), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events_referring(f->s, eb.id, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_memory_equal(seen.id[0], rb.ev->id, WM_ID_LEN);
	built_free(&ra);
	built_free(&rb);
	assert_int_equal(store_delete(f->s, ea.id), 0);
	assert_int_equal(store_has(f->s, ea.id), 0);
	assert_int_equal(store_has(f->s, eb.id), 1);
}

static void test_filters_and_reentry(void **state)
{
	struct fx *f = *state;
	struct built e[6];
	struct store_filter flt;
	struct seen seen;
	int i;

	for (i = 0; i < 6; i++) {
		char text[32];

		snprintf(text, sizeof(text), "event %d", i);
		/* arrival order differs from created_at order */
		if (i % 2 == 0)
			e[i] = bulletin(f->k, "g1", T0 + 10000 - (uint64_t)i, "t", text);
		else
			e[i] = reply(f->k, "g2", T0 + (uint64_t)i, e[0].ev->id, text);
		assert_int_equal(store_insert(f->s, e[i].ev, 1), 0);
	}
	memset(&flt, 0, sizeof(flt));
	flt.group = "g1";
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events(f->s, &flt, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 3);

	memset(&flt, 0, sizeof(flt));
	flt.kind = KIND_REPLY;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events(f->s, &flt, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_memory_equal(seen.id[0], e[1].ev->id, WM_ID_LEN);

	/* cursor and limit */
	memset(&flt, 0, sizeof(flt));
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events(f->s, &flt, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 6);
	flt.after_seq = seen.seq[2];
	flt.limit = 2;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events(f->s, &flt, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_memory_equal(seen.id[0], e[3].ev->id, WM_ID_LEN);
	assert_memory_equal(seen.id[1], e[4].ev->id, WM_ID_LEN);

	/* newest first, with group */
	memset(&flt, 0, sizeof(flt));
	flt.group = "g1";
	flt.newest_first = 1;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events(f->s, &flt, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_memory_equal(seen.id[0], e[0].ev->id, WM_ID_LEN);
	assert_memory_equal(seen.id[2], e[4].ev->id, WM_ID_LEN);

	/* newest first, every group but one, with a limit */
	memset(&flt, 0, sizeof(flt));
	flt.except_group = "g1";
	flt.newest_first = 1;
	flt.limit = 2;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events(f->s, &flt, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_memory_equal(seen.id[0], e[5].ev->id, WM_ID_LEN);
	assert_memory_equal(seen.id[1], e[3].ev->id, WM_ID_LEN);

	/* referring */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events_referring(f->s, e[0].ev->id, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 3);

	/* by author */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events_by_author(f->s, f->k->pub, T0 + 5, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 4);     /* three bulletins at ~T0+10000, reply 5 */
	for (i = 0; i < 6; i++)
		built_free(&e[i]);
}

struct nest {
	struct store *s;
	size_t outer, inner;
};

static int inner_cb(void *ctx, const struct stored_event *e)
{
	struct nest *n = ctx;

	(void)e;
	n->inner++;
	return 0;
}

static int outer_cb(void *ctx, const struct stored_event *e)
{
	struct nest *n = ctx;
	uint8_t *wire = NULL;
	size_t len = 0;

	n->outer++;
	/* the same cached statement is busy here: the store must cope */
	assert_int_equal(store_events(n->s, NULL, inner_cb, n), 0);
	assert_int_equal(store_get(n->s, e->id, &wire, &len), 0);
	free(wire);
	return 0;
}

static void test_nested_iteration(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin(f->k, "g", T0, "a", "a");
	struct built b = bulletin(f->k, "g", T0 + 1, "b", "b");
	struct nest n = { f->s, 0, 0 };

	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(store_events(f->s, NULL, outer_cb, &n), 0);
	assert_int_equal(n.outer, 2);
	assert_int_equal(n.inner, 4);
	built_free(&a);
	built_free(&b);
}

/* The repair aggregates of both sizes are exactly those of the events
 * rows (these tests refuse nothing): none missing, none left over. */
#define AGG_DIFF(t, sh)                                                                          \
	"WITH a AS (SELECT grp, bucket, cnt, sum FROM " t " WHERE cnt != 0), "                  \
	"b AS (SELECT " STORE_GRP_NAME("grp") ", created_at >> " sh " AS bucket, count(*) AS cnt, wm_neg_total(id) AS sum " \
	"FROM events GROUP BY 1, 2 UNION ALL SELECT '*', created_at >> " sh ", count(*), "        \
	"wm_neg_total(id) FROM events GROUP BY 2) "                                               \
	"SELECT (SELECT count(*) FROM (SELECT * FROM a EXCEPT SELECT * FROM b)) + "              \
	"(SELECT count(*) FROM (SELECT * FROM b EXCEPT SELECT * FROM a))"
static void assert_aggs_exact(struct store *s)
{
	static const char *const sql[] = {
		AGG_DIFF("neg_agg", STORE_STR(STORE_NEG_BUCKET_SHIFT)),
		AGG_DIFF("neg_fine", STORE_STR(STORE_NEG_FINE_SHIFT)),
	};
	sqlite3_stmt *st;
	size_t i;

	for (i = 0; i < 2; i++) {
		assert_int_equal(sqlite3_prepare_v2(store_db(s), sql[i], -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int64(st, 0), 0);
		sqlite3_finalize(st);
	}
}

static void test_transactions(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin(f->k, "g", T0, "a", "a");
	struct built b = bulletin(f->k, "g", T0 + 1, "b", "b");
	struct built c = bulletin(f->k, "g", T0 + 2, "c", "c");
	struct store_counts counts;

	assert_int_equal(store_in_transaction(f->s), 0);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_in_transaction(f->s), 1);
	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(store_savepoint(f->s), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(store_rollback_savepoint(f->s), 0);     /* b undone */
	assert_int_equal(store_savepoint(f->s), 0);
	assert_int_equal(store_insert(f->s, c.ev, 1), 0);
	/* the aggregates summed in memory count in the open transaction */
	assert_int_equal(store_counts(f->s, &counts), 0);
	assert_int_equal(counts.events, 2);
	assert_int_equal(store_release(f->s), 0);                /* c kept */
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_has(f->s, a.ev->id), 1);
	assert_int_equal(store_has(f->s, b.ev->id), 0);
	assert_int_equal(store_has(f->s, c.ev->id), 1);
	assert_int_equal(store_release(f->s), WM_EINVAL);        /* none open */
	assert_aggs_exact(f->s);                                 /* b's sums undone too */

	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(store_rollback(f->s), 0);
	assert_int_equal(store_has(f->s, b.ev->id), 0);
	assert_int_equal(search_n(f->s, "b", NULL), 0);          /* its text too */

	/* a savepoint outside a transaction commits on release */
	assert_int_equal(store_savepoint(f->s), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(store_release(f->s), 0);
	assert_int_equal(store_in_transaction(f->s), 0);
	assert_int_equal(store_has(f->s, b.ev->id), 1);
	assert_aggs_exact(f->s);                                 /* counted once */
	built_free(&a);
	built_free(&b);
	built_free(&c);
}

/*
 * One duplicate lookup (struct known in store.c): an id store_lookup
 * found not held is not looked for again by its insert, nor by a lookup
 * in a write transaction, until stored or refused -- yet nothing is
 * ever stored or counted twice: the same id twice in one transaction, a
 * row a rollback (or a rollback to a savepoint) brings back, a row another
 * connection (another process) stored since the lookup, inside or outside
 * a transaction.  The aggregates equal a recount after all of them.
 */
static void test_known_not_held(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin(f->k, "g", T0, "a", "a");
	struct built b = bulletin(f->k, "g", T0 + 1, "b", "b");
	struct built c = bulletin(f->k, "h", T0 + 2, "c", "c");
	struct built d = bulletin(f->k, "h", T0 + 3, "d", "d");
	struct store *s2 = NULL;
	struct store_counts counts;
	char why[WM_WHY_LEN];

	/* twice in one batch: both lookups before either insert */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_lookup(f->s, a.ev->id, NULL, NULL), 0);
	assert_int_equal(store_lookup(f->s, a.ev->id, NULL, NULL), 0);
	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(store_insert(f->s, a.ev, 1), WM_EDUP);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_insert(f->s, a.ev, 1), WM_EDUP);

	/* inside a write transaction the lookup answers from what it found,
	 * until the id is stored or refused */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_lookup(f->s, b.ev->id, NULL, NULL), 0);
	assert_int_equal(store_lookup(f->s, c.ev->id, NULL, NULL), 0);
	assert_int_equal(store_lookup(f->s, b.ev->id, NULL, NULL), 0);
	assert_int_equal(store_remember_rejected(f->s, b.ev->id, WM_ECONTENT, "test"), 0);
	assert_int_equal(store_lookup(f->s, b.ev->id, NULL, NULL), STORE_REFUSED);
	assert_int_equal(store_insert(f->s, c.ev, 1), 0);
	assert_int_equal(store_lookup(f->s, c.ev->id, NULL, NULL), STORE_HELD);
	assert_int_equal(store_rollback(f->s), 0);

	/* a rollback brings back the row deleted before the lookup */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_delete(f->s, a.ev->id), 0);
	assert_int_equal(store_lookup(f->s, a.ev->id, NULL, NULL), 0);
	assert_int_equal(store_rollback(f->s), 0);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_insert(f->s, a.ev, 1), WM_EDUP);
	assert_int_equal(store_commit(f->s), 0);
	/* and so does a rollback to a savepoint */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_savepoint(f->s), 0);
	assert_int_equal(store_delete(f->s, a.ev->id), 0);
	assert_int_equal(store_lookup(f->s, a.ev->id, NULL, NULL), 0);
	assert_int_equal(store_rollback_savepoint(f->s), 0);
	assert_int_equal(store_insert(f->s, a.ev, 1), WM_EDUP);
	assert_int_equal(store_commit(f->s), 0);

	/* another connection stores it between the lookup and the insert:
	 * the lookup outside a transaction, or inside the one before */
	assert_int_equal(store_open(f->d.path, &s2, why), 0);
	assert_int_equal(store_lookup(f->s, b.ev->id, NULL, NULL), 0);
	assert_int_equal(store_insert(s2, b.ev, 1), 0);
	assert_int_equal(store_lookup(f->s, b.ev->id, NULL, NULL), STORE_HELD);
	assert_int_equal(store_insert(f->s, b.ev, 1), WM_EDUP);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_lookup(f->s, c.ev->id, NULL, NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_insert(s2, c.ev, 1), 0);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_insert(f->s, c.ev, 1), WM_EDUP);
	assert_int_equal(store_commit(f->s), 0);
	/* the other way round too, and a lookup that stays true is used */
	assert_int_equal(store_begin(s2), 0);
	assert_int_equal(store_lookup(s2, d.ev->id, NULL, NULL), 0);
	assert_int_equal(store_commit(s2), 0);
	assert_int_equal(store_insert(f->s, d.ev, 1), 0);
	assert_int_equal(store_insert(s2, d.ev, 1), WM_EDUP);
	store_close(s2);

	assert_int_equal(store_counts(f->s, &counts), 0);
	assert_int_equal(counts.events, 4);
	assert_aggs_exact(f->s);
	built_free(&a);
	built_free(&b);
	built_free(&c);
	built_free(&d);
}

/* SQLite does not count its memory (a global mutex around every one of
 * its allocations, ~100 an event): store_open turned the count off
 * before SQLite's first use, so it reads 0 with a store open and used. */
static void test_no_memstatus(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin(f->k, "g", T0, "a", "a");
	sqlite3_int64 cur = -1, high = -1;

	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &cur, &high, 0), SQLITE_OK);
	assert_int_equal(cur, 0);
	built_free(&a);
}

/* The set of ids found not held past its first sizes (grown four times),
 * half of them taken out by inserts in between: the other half still
 * known (answered without SQL, then stored once), the taken half never
 * stored twice. */
static void test_known_many(void **state)
{
	struct fx *f = *state;
	struct built *b = calloc(3000, sizeof(*b));
	struct store_counts counts;
	char title[32];
	size_t i;

	assert_non_null(b);
	for (i = 0; i < 3000; i++) {
		snprintf(title, sizeof title, "many %zu", i);
		b[i] = bulletin(f->k, i % 3 ? "g" : "h", T0 + i, title, "x");
	}
	assert_int_equal(store_begin(f->s), 0);
	for (i = 0; i < 3000; i++)
		assert_int_equal(store_lookup(f->s, b[i].ev->id, NULL, NULL), 0);
	for (i = 0; i < 3000; i += 2)
		assert_int_equal(store_insert(f->s, b[i].ev, 1), 0);
	for (i = 0; i < 3000; i++)
		assert_int_equal(store_lookup(f->s, b[i].ev->id, NULL, NULL), i % 2 ? 0 : STORE_HELD);
	for (i = 0; i < 3000; i++)
		assert_int_equal(store_insert(f->s, b[i].ev, 1), i % 2 ? 0 : WM_EDUP);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_counts(f->s, &counts), 0);
	assert_int_equal(counts.events, 3000);
	assert_aggs_exact(f->s);
	for (i = 0; i < 3000; i++)
		built_free(&b[i]);
	free(b);
}

static int count_waiting(void *ctx, const struct stored_event *e)
{
	(void)e;
	(*(int *)ctx)++;
	return 0;
}

/* That no retract waits is known only inside a write transaction, once
 * asked there (struct known): outside one, another connection may have
 * made one wait since. */
static void test_known_no_waiting(void **state)
{
	struct fx *f = *state;
	struct built r = bulletin(f->k, "g", T0, "r", "stands in for a retract");
	uint8_t target[WM_ID_LEN];
	struct store *s2 = NULL;
	char why[WM_WHY_LEN];
	int n = 0;

	memset(target, 7, sizeof target);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_waiting_retracts(f->s, target, count_waiting, &n), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_open(f->d.path, &s2, why), 0);
	assert_int_equal(store_insert(s2, r.ev, 1), 0);
	assert_int_equal(store_wait_retract(s2, target, r.ev->id), 0);
	store_close(s2);
	assert_int_equal(store_waiting_retracts(f->s, target, count_waiting, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_waiting_retracts(f->s, target, count_waiting, &n), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(n, 2);
	built_free(&r);
}

static int cert_cb(void *ctx, const struct cert *c)
{
	struct cert *out = ctx;

	out[out[0].role == 0 ? 0 : 1] = *c;
	return 0;
}

static void test_certs_and_revocations(void **state)
{
	struct fx *f = *state;
	struct built e1 = bulletin(f->k, "network-ish", T0, "cert", "stand-in event");
	struct built e2 = bulletin(f->k, "network-ish", T0 + 1, "revoke", "stand-in event");
	uint8_t root[WM_PUB_LEN], station[WM_PUB_LEN], officer[WM_PUB_LEN], stranger[WM_PUB_LEN];
	struct cert c, got[2];

	memset(root, 1, sizeof(root));
	memset(station, 2, sizeof(station));
	memset(officer, 3, sizeof(officer));
	memset(stranger, 4, sizeof(stranger));
	memset(&c, 0, sizeof(c));
	memcpy(c.issuer, station, WM_PUB_LEN);
	memcpy(c.subject, officer, WM_PUB_LEN);
	c.role = ROLE_OFFICER;
	snprintf(c.name, sizeof(c.name), "Officer Li");
	snprintf(c.groups, sizeof(c.groups), "gaobu.a,gaobu.b");
	c.not_before = T0;
	c.not_after = UINT64_MAX;              /* clamped, and read back as a huge time */
	c.created_at = T0;
	assert_int_equal(store_insert(f->s, e1.ev, 1), 0);
	assert_int_equal(store_add_cert(f->s, e1.ev, &c), 0);

	memset(got, 0, sizeof(got));
	assert_int_equal(store_certs_of(f->s, officer, cert_cb, got), 0);
	assert_int_equal(got[0].role, ROLE_OFFICER);
	assert_string_equal(got[0].name, "Officer Li");
	assert_string_equal(got[0].groups, "gaobu.a,gaobu.b");
	assert_memory_equal(got[0].issuer, station, WM_PUB_LEN);
	assert_memory_equal(got[0].event_id, e1.ev->id, WM_ID_LEN);
	assert_true(got[0].not_after >= (uint64_t)INT64_MAX);
	memset(got, 0, sizeof(got));
	assert_int_equal(store_certs_issued_by(f->s, station, cert_cb, got), 0);
	assert_int_equal(got[0].role, ROLE_OFFICER);
	memset(got, 0, sizeof(got));
	assert_int_equal(store_certs_of(f->s, stranger, cert_cb, got), 0);
	assert_int_equal(got[0].role, 0);

	assert_int_equal(store_revoked_by(f->s, officer, station), 0);
	assert_int_equal(store_insert(f->s, e2.ev, 1), 0);
	/* e2's author (f->k) revokes: by that signer only */
	assert_int_equal(store_add_revocation(f->s, e2.ev, officer, T0 + 500), 0);
	assert_int_equal(store_revoked_by(f->s, officer, station), 0);
	assert_int_equal(store_revoked_by(f->s, officer, root), 0);
	assert_int_equal(store_revoked_by(f->s, officer, f->k->pub), 1);

	struct store_counts n;
	assert_int_equal(store_counts(f->s, &n), 0);
	assert_int_equal(n.certs, 1);
	/* deleting an event takes its cert / revocation with it */
	assert_int_equal(store_delete(f->s, e1.ev->id), 0);
	assert_int_equal(store_delete(f->s, e2.ev->id), 0);
	assert_int_equal(store_delete(f->s, e2.ev->id), WM_ENOTFOUND);
	assert_int_equal(store_counts(f->s, &n), 0);
	assert_int_equal(n.certs, 0);
	assert_int_equal(n.events, 0);
	assert_int_equal(store_revoked_by(f->s, officer, f->k->pub), 0);

	assert_int_equal(role_from_name("officer"), ROLE_OFFICER);
	assert_int_equal(role_from_name("mayor"), 0);
	assert_string_equal(role_name(ROLE_STATION), "station");
	built_free(&e1);
	built_free(&e2);
}

/* The gaps waiting for an id are read for the author whose event it turns
 * out to be: decoys planted on that id under other authors (a hostile
 * station revoking keys it certified, keep naming the id) neither crowd the
 * real gap out nor are read; all of them are forgotten. */
static void test_gaps_take_by_author(void **state)
{
	struct fx *f = *state;
	struct store_gap g[16];
	uint8_t id[WM_ID_LEN], author[WM_PUB_LEN], decoy[WM_PUB_LEN], signer[WM_PUB_LEN];
	size_t n = 99;

	memset(id, 0x11, sizeof id);
	memset(author, 0xee, sizeof author);
	memset(signer, 0x55, sizeof signer);
	for (int i = 0; i < 40; i++) {
		memset(decoy, i, sizeof decoy);     /* all sort before the real author */
		assert_int_equal(store_gap_add(f->s, id, decoy, signer, "g"), 0);
	}
	assert_int_equal(store_gap_add(f->s, id, author, signer, "g"), 0);
	assert_int_equal(store_gaps_take(f->s, id, author, g, 16, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(g[0].author, author, WM_PUB_LEN);
	assert_string_equal(g[0].group, "g");
	memset(decoy, 0, sizeof decoy);
	assert_int_equal(store_gaps_take(f->s, id, decoy, g, 16, &n), 0);
	assert_int_equal(n, 0);
}

static void test_seq_never_reused(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin(f->k, "g", T0, "a", "a");
	struct built b = bulletin(f->k, "g", T0 + 1, "b", "b");
	struct seen seen;
	int64_t first;

	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events(f->s, NULL, seen_cb, &seen), 0);
	first = seen.seq[0];
	assert_int_equal(store_delete(f->s, a.ev->id), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events(f->s, NULL, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_true(seen.seq[0] > first);     /* a client's cursor never misses it */
	built_free(&a);
	built_free(&b);
}

/* A store of schema 11 (each row with its author's key, the whole id in a
 * UNIQUE index) keeps every event, its author and seq, and the seq counter
 * past a deleted event; deletes still leave the repair aggregates. */
static void test_migration_authors(void **state)
{
	struct fx *f = *state;
	struct key *k2 = fx_key(0x43);
	struct built a = bulletin(f->k, "g", T0, "a", "a"), b = bulletin(k2, "h", T0 + 1, "b", "b");
	struct built c = bulletin(f->k, "g", T0 + 2, "c", "c");
	struct store_info ia, ib, ic, got;
	struct store_counts n;
	struct seen seen;
	char why[WM_WHY_LEN];

	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(store_insert(f->s, c.ev, 1), 0);
	assert_int_equal(store_info(f->s, a.ev->id, &ia), 0);
	assert_int_equal(store_info(f->s, b.ev->id, &ib), 0);
	assert_int_equal(store_info(f->s, c.ev->id, &ic), 0);
	assert_int_equal(store_delete(f->s, c.ev->id), 0);
	assert_int_equal(sqlite3_exec(store_db(f->s), SCHEMA_11_ROWS
	                              "DROP INDEX events_id; CREATE UNIQUE INDEX events_id11 ON events(id);"
	                              "PRAGMA user_version = 11;", NULL, NULL, NULL), SQLITE_OK);
	store_close(f->s);
	f->s = NULL;
	if (store_open(f->d.path, &f->s, why) != 0)
		fail_msg("store_open: %s", why);
	assert_int_equal(sql_int(f->d.path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(f->d.path, "SELECT count(*) FROM authors"), 2);
	assert_int_equal(sql_int(f->d.path, "SELECT count(*) FROM grps"), 2);
	assert_int_equal(store_info(f->s, a.ev->id, &got), 0);
	assert_memory_equal(&got, &ia, sizeof(got));
	assert_int_equal(store_info(f->s, b.ev->id, &got), 0);
	assert_memory_equal(&got, &ib, sizeof(got));
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events_by_author(f->s, k2->pub, 0, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(store_insert(f->s, a.ev, 1), WM_EDUP);
	assert_int_equal(store_insert(f->s, c.ev, 1), 0);
	assert_int_equal(store_info(f->s, c.ev->id, &got), 0);
	assert_true(got.seq > ic.seq);
	assert_int_equal(store_delete(f->s, b.ev->id), 0);
	assert_int_equal(store_counts(f->s, &n), 0);
	assert_int_equal(n.events, 2);
	built_free(&a);
	built_free(&b);
	built_free(&c);
	key_free(k2);
}

/* A store of schema 12 (the search key stored in the row, refs_ref on the
 * whole ref) migrates with every row's key as it was, so the text indexed
 * under it is found and deleted as before, and its refs found. */
static void test_migration_search_slot(void **state)
{
	struct fx *f = *state;
	struct built a = bulletin(f->k, "g", T0, "走失", "one"), b = bulletin(f->k, "g", T0 + 1, "走失", "two");
	struct built c = reply(f->k, "g", T0 + 2, a.ev->id, "已收到");
	struct seen seen;
	char why[WM_WHY_LEN];
	size_t n;

	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(store_insert(f->s, c.ev, 1), 0);
	/* schema 12's rows: each key whole, in the row's last column; the
	 * keys of 13 noted beside them to compare */
	assert_int_equal(sqlite3_exec(store_db(f->s),
	                              "CREATE TABLE keys13 AS SELECT seq, search_key FROM events;"
	                              "DROP INDEX events_search; ALTER TABLE events DROP COLUMN search_key;"
	                              "ALTER TABLE events RENAME COLUMN search_slot TO search_key;"
	                              "UPDATE events SET search_key = (SELECT k.search_key FROM keys13 k"
	                              "  WHERE k.seq = events.seq);"
	                              "CREATE INDEX events_search ON events(search_key) WHERE search_key IS NOT NULL;"
	                              "DROP INDEX refs_ref; CREATE INDEX refs_ref ON refs(ref);"
	                              "PRAGMA user_version = 12;", NULL, NULL, NULL), SQLITE_OK);
	store_close(f->s);
	f->s = NULL;
	if (store_open(f->d.path, &f->s, why) != 0)
		fail_msg("store_open: %s", why);
	assert_int_equal(sql_int(f->d.path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(f->d.path, "SELECT count(*) FROM events e JOIN keys13 k USING (seq)"
	                         " WHERE e.search_key IS k.search_key"), 3);
	assert_int_equal(sql_int(f->d.path, "SELECT count(*) FROM events WHERE search_key IS NOT NULL"), 3);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_events_referring(f->s, a.ev->id, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_memory_equal(seen.id[0], c.ev->id, WM_ID_LEN);
	assert_int_equal(store_search_count(f->s, "走失", NULL, 10, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_delete(f->s, a.ev->id), 0);
	assert_int_equal(store_search_count(f->s, "走失", NULL, 10, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_search_count(f->s, "two", NULL, 10, &n), 0);
	assert_int_equal(n, 1);
	built_free(&a);
	built_free(&b);
	built_free(&c);
}

/* The row's bytes without the author's key, made whole where they are
 * read (store_raw.c).  The byte compares of one event (store_get, the
 * feed) and the wire's payload length: its bin header, c4 or c5. */
struct wires {
	size_t n;
	struct built *b;
	size_t match;
};

static int wires_cb(void *ctx, const struct stored_event *e)
{
	struct wires *w = ctx;
	size_t i;

	for (i = 0; i < w->n; i++)
		if (memcmp(w->b[i].ev->id, e->id, WM_ID_LEN) == 0 && e->wire_len == w->b[i].len &&
		    memcmp(e->wire, w->b[i].wire, e->wire_len) == 0)
			w->match++;
	return 0;
}

static void assert_gets(struct store *s, const struct built *b)
{
	uint8_t *wire = NULL;
	size_t len = 0;

	assert_int_equal(store_get(s, b->ev->id, &wire, &len), 0);
	assert_int_equal(len, b->len);
	assert_memory_equal(wire, b->wire, len);
	free(wire);
}

static size_t payload_len(const struct built *b)
{
	return b->wire[1] == 0xc4 ? b->wire[2] : (size_t)b->wire[2] << 8 | b->wire[3];
}

/* Events of every payload length from ~140 to ~400 bytes (the group's
 * name a byte longer each time, a ref more every 34): those of 255 and
 * 256 bytes (the wire's header c4 or c5) and of 287 and 288 (the cut
 * one's header a byte shorter or not) among them.  Each kept 32 or 33
 * bytes shorter and read back as it came, by the feed, by id and hidden;
 * a retracted one's withheld form made from the whole bytes. */
static void test_raw_without_author(void **state)
{
	struct fx *f = *state;
	struct built *b = calloc(8 * 34, sizeof(*b));
	struct store_filter all = { 0 };
	struct wires w = { 0, b, 0 };
	size_t i, j, n = 0, kept = 0, seen[512] = { 0 };
	uint8_t by[WM_ID_LEN];
	char group[40];

	assert_non_null(b);
	for (i = 0; i < 8; i++)
		for (j = 1; j <= 34; j++) {
			struct event_draft d;

			memset(group, 'g', j);
			group[j] = '\0';
			fx_draft(&d, f->k, KIND_REPLY, group, T0 + n);
			d.nrefs = i + 1;
			memset(d.refs, (int)n + 1, sizeof(d.refs));
			draft_str(&d, "text", "已收到");
			b[n] = build(&d, f->k);
			assert_int_equal(store_insert(f->s, b[n].ev, 1), 0);
			seen[payload_len(&b[n]) % 512]++;
			/* a byte more where the header shrinks (c5 -> c4) */
			kept += b[n].len - WM_PUB_LEN -
			        (payload_len(&b[n]) >= 256 && payload_len(&b[n]) < 288);
			n++;
		}
	assert_true(seen[255] && seen[256] && seen[287] && seen[288]);
	assert_int_equal(sql_int(f->d.path, "SELECT sum(length(raw)) FROM events"), (int)kept);
	for (i = 0; i < n; i++)
		assert_gets(f->s, &b[i]);
	w.n = n;
	assert_int_equal(store_events(f->s, &all, wires_cb, &w), 0);
	assert_int_equal(w.match, n);
	/* hidden (made whole in SQL), listed by the revoke that decided it */
	memset(by, 0xb1, sizeof(by));
	assert_int_equal(store_hide(f->s, b[0].ev->id, by, WM_EREVOKED, "revoked"), 0);
	w.match = 0;
	assert_int_equal(store_hidden_by(f->s, by, wires_cb, &w), 0);
	assert_int_equal(w.match, 1);
	assert_int_equal(store_retract(f->s, b[n - 1].ev->id, by), 0);
	{
		uint8_t *wire = NULL, *wh = NULL;
		size_t len = 0, whlen = 0;

		assert_int_equal(event_withheld(b[n - 1].wire, b[n - 1].len, &wh, &whlen), 0);
		assert_int_equal(store_get(f->s, b[n - 1].ev->id, &wire, &len), 0);
		assert_int_equal(len, whlen);
		assert_memory_equal(wire, wh, len);
		free(wire);
		free(wh);
	}
	{
		/* bytes of another shape are kept whole: a longer header than
		 * needed (a payload of 255 bytes as c5 00 ff), another author */
		uint8_t odd[600], out[600];
		struct built *e = b;

		while (payload_len(e) != 255)
			e++;
		odd[0] = 0x93;
		odd[1] = 0xc5;
		odd[2] = 0;
		memcpy(odd + 3, e->wire + 2, e->len - 2);
		assert_int_equal(store_raw_cut(odd, e->len + 1, e->ev->author, out), 0);
		assert_int_not_equal(store_raw_cut(e->wire, e->len, e->ev->author, out), 0);
		memset(odd, 0x42, WM_PUB_LEN);
		assert_int_equal(store_raw_cut(e->wire, e->len, odd, out), 0);
	}
	for (i = 0; i < n; i++)
		built_free(&b[i]);
	free(b);
}

/* An author's number read in a transaction that rolls back may be given
 * to the next new author: the bytes read after it are that author's. */
static void test_raw_author_rolled_back(void **state)
{
	struct fx *f = *state;
	struct key *k2 = fx_key(0x43), *k3 = fx_key(0x44);
	struct built a = bulletin(k2, "g", T0, "停水", "明天");
	struct built c = bulletin(k3, "g", T0 + 1, "停电", "今晚");

	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_gets(f->s, &a);
	assert_int_equal(store_rollback(f->s), 0);
	assert_int_equal(store_insert(f->s, c.ev, 1), 0);
	assert_int_equal(sql_int(f->d.path, "SELECT max(aid) FROM authors"), 1);
	assert_gets(f->s, &c);
	built_free(&a);
	built_free(&c);
	key_free(k2);
	key_free(k3);
}

/* A store of schema 13 (each row's raw whole, events_grp and events_kind
 * on (grp, seq) and (kind, seq)) migrates to rows without the author's
 * key and those indexes without seq, every event read back as it came,
 * searched and deleted as new ones are, the seq counter and the other
 * indexes kept. */
static void test_migration_raw(void **state)
{
	struct fx *f = *state;
	struct key *k2 = fx_key(0x43);
	struct built a = bulletin(f->k, "g", T0, "走失", "王阿姨");
	struct built b = bulletin(k2, "h", T0 + 1, "走失", "李大爷");
	struct built c = reply(k2, "g", T0 + 2, a.ev->id, "已收到");
	char why[WM_WHY_LEN];
	size_t n, whole = a.len + b.len + c.len;
	uint8_t by[WM_ID_LEN];

	assert_int_equal(store_insert(f->s, a.ev, 1), 0);
	assert_int_equal(store_insert(f->s, b.ev, 1), 0);
	assert_int_equal(store_insert(f->s, c.ev, 1), 0);
	memset(by, 0xb1, sizeof(by));
	assert_int_equal(store_retract(f->s, c.ev->id, by), 0);
	/* schema 13's rows: raw whole, seq twice in two indexes, and one more
	 * seq given */
	assert_int_equal(sqlite3_exec(store_db(f->s),
	                              "UPDATE events SET raw = wm_raw(raw,"
	                              "  (SELECT key FROM authors a WHERE a.aid = events.author));"
	                              "DROP INDEX events_grp;"
	                              "CREATE INDEX events_grp ON events(grp, seq);"
	                              "DROP INDEX events_kind;"
	                              "CREATE INDEX events_kind ON events(kind, seq);"
	                              "UPDATE sqlite_sequence SET seq = 9 WHERE name = 'events';"
	                              "PRAGMA user_version = 13;", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sql_int(f->d.path, "SELECT sum(length(raw)) FROM events"),
	                 (int)(whole - c.len));
	store_close(f->s);
	f->s = NULL;
	if (store_open(f->d.path, &f->s, why) != 0)
		fail_msg("store_open: %s", why);
	assert_int_equal(sql_int(f->d.path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(f->d.path, "SELECT sum(length(raw)) FROM events"),
	                 (int)(whole - c.len - 2 * WM_PUB_LEN));
	assert_int_equal(sql_int(f->d.path, "SELECT seq FROM sqlite_sequence"
	                         " WHERE name = 'events'"), 9);
	assert_int_equal(sql_int(f->d.path, "SELECT count(*) FROM sqlite_schema WHERE name IN"
	                         " ('events_grp', 'events_kind') AND sql LIKE '%seq%'"), 0);
	assert_int_equal(sql_int(f->d.path, "SELECT count(*) FROM sqlite_schema WHERE"
	                         " tbl_name = 'events' AND type IN ('index', 'trigger')"), 11);
	assert_gets(f->s, &a);
	assert_gets(f->s, &b);
	assert_int_equal(store_search_count(f->s, "走失", NULL, 10, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_delete(f->s, a.ev->id), 0);
	assert_int_equal(store_search_count(f->s, "走失", NULL, 10, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_search_count(f->s, "李大爷", NULL, 10, &n), 0);
	assert_int_equal(n, 1);
	built_free(&a);
	built_free(&b);
	built_free(&c);
	key_free(k2);
}

static void test_rejected_and_meta(void **state)
{
	struct fx *f = *state;
	uint8_t id[WM_ID_LEN], other[WM_ID_LEN];
	char why[WM_WHY_LEN], val[8];
	int code = 0;

	memset(id, 9, sizeof(id));
	memset(other, 8, sizeof(other));
	assert_int_equal(store_was_rejected(f->s, id, &code, why), 0);
	assert_int_equal(store_remember_rejected(f->s, id, WM_ESIG, "bad signature by someone"), 0);
	assert_int_equal(store_was_rejected(f->s, id, &code, why), 1);
	assert_int_equal(code, WM_ESIG);
	assert_string_equal(why, "bad signature by someone");
	assert_int_equal(store_was_rejected(f->s, other, &code, why), 0);

	assert_int_equal(store_meta_get(f->s, "root", val, sizeof(val)), WM_ENOTFOUND);
	assert_int_equal(store_meta_set(f->s, "root", "abc"), 0);
	assert_int_equal(store_meta_set(f->s, "root", "abcd"), 0);
	assert_int_equal(store_meta_get(f->s, "root", val, sizeof(val)), 0);
	assert_string_equal(val, "abcd");
	assert_int_equal(store_meta_set(f->s, "long", "0123456789"), 0);
	assert_int_equal(store_meta_get(f->s, "long", val, sizeof(val)), WM_ETOOBIG);
	/* another handle reads what this one wrote from the file */
	{
		struct store *s2 = NULL;

		assert_int_equal(store_open(f->d.path, &s2, NULL), 0);
		assert_int_equal(store_meta_get(s2, "root", val, sizeof(val)), 0);
		assert_string_equal(val, "abcd");
		assert_int_equal(store_meta_get(s2, "none", val, sizeof(val)), WM_ENOTFOUND);
		store_close(s2);
	}
	store_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_plans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_search_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_in_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_search, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_fold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_fold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_text_from_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_category, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_open_keeps_locks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_alert_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retraction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filters_and_reentry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_iteration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_not_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_no_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_memstatus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certs_and_revocations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_never_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gaps_take_by_author, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejected_and_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_id_prefix_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_authors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_without_author, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_author_rolled_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_raw, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
