/*
 * bench_reads: the feed's and the search's queries timed inside one
 * process, on a reader (store_open_reader), as the HTTP API will run them:
 *
 *   bench_reads STORE.db [RUNS]
 *
 * Each query runs once cold (the first in this process; the file may be
 * in the OS cache from an earlier run), then RUNS times (default 20);
 * prints one markdown row per query: rows, first, min, median, max in
 * ms.  Ends with the process's peak RSS.  Not a test: tests/bench/
 * bench_reads.sh runs it beside the CLI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "store.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int count_cb(void *ctx, const struct stored_event *e)
{
	(void)e;
	(*(size_t *)ctx)++;
	return 0;
}

struct query {
	const char *label;
	const char *group;      /* feed */
	unsigned kind;          /* feed */
	const char *search;     /* search: a page of 50 and the count up to 1,000 */
};

static int run(struct store *s, const struct query *q, size_t *rows)
{
	struct store_filter f;
	size_t total;

	*rows = 0;
	if (q->search == NULL) {
		memset(&f, 0, sizeof(f));
		f.group = q->group;
		f.kind = q->kind;
		f.newest_first = 1;
		f.limit = 50;
		return store_events(s, &f, count_cb, rows);
	}
	if (store_search(s, q->search, NULL, 50, 0, count_cb, rows) != 0)
		return -1;
	return store_search_count(s, q->search, NULL, 1000, &total);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct query queries[] = {
		{ "feed --group gaobu.dongfeng --limit 50", "gaobu.dongfeng", 0, NULL },
		{ "feed --kind bulletin --limit 50", NULL, KIND_BULLETIN, NULL },
		{ "search 诈骗 (50 and the count)", NULL, 0, "诈骗" },
		{ "search 电信诈骗 (50 and the count)", NULL, 0, "电信诈骗" },
		{ "search 骗 (50 and the count)", NULL, 0, "骗" },
	};
	struct store *s = NULL;
	struct rusage ru;
	char why[WM_WHY_LEN];
	double *t, first, t0;
	size_t runs = 20, i, r, rows;

	if (argc < 2 || argc > 3 || (argc == 3 && (runs = strtoul(argv[2], NULL, 10)) == 0)) {
		fprintf(stderr, "usage: bench_reads STORE.db [RUNS]\n");
		return 2;
	}
	if (store_open_reader(argv[1], &s, why) != 0) {
		fprintf(stderr, "bench_reads: %s\n", why);
		return 1;
	}
	if ((t = calloc(runs, sizeof(*t))) == NULL)
		return 1;
	printf("| query (in process, a reader) | rows | first | min | median | max |\n");
	printf("|---|---|---|---|---|---|\n");
	for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		t0 = now_ms();
		if (run(s, &queries[i], &rows) != 0) {
			fprintf(stderr, "bench_reads: %s: %s\n", queries[i].label, store_errmsg(s));
			return 1;
		}
		first = now_ms() - t0;
		for (r = 0; r < runs; r++) {
			t0 = now_ms();
			run(s, &queries[i], &rows);
			t[r] = now_ms() - t0;
		}
		qsort(t, runs, sizeof(*t), cmp_double);
		printf("| %s | %zu | %.2f ms | %.2f ms | %.2f ms | %.2f ms |\n", queries[i].label, rows, first,
		       t[0], t[runs / 2], t[runs - 1]);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("\npeak RSS of this process: %.1f MB\n", (double)ru.ru_maxrss / 1024);
	free(t);
	store_close(s);
	return 0;
}
