/*
 * Fuzz target: the CLI's readers of values from a command line and of the
 * daemon's status.json (node/cli): --circle and --expires (cmd_post.c),
 * times (keep.c's cli_parse_time), numbers (main.c's cli_parse_uint), event
 * ids (cli_resolve_id, without a store), and status.json as `status` prints
 * it (cmd_status.c: peer names and errors in it come from other nodes).
 * The two commands' files are compiled into this one so that their static
 * readers can be called; the rest of the CLI is linked with its main
 * renamed (meson.build).  The first byte picks the reader, the rest is the
 * value.  Invariants (abort on violation): an accepted value is in the
 * range the option promises; status.json of any shape prints without a
 * fault.
 */
#include "../../node/cli/cmd_post.c"
#include "../../node/cli/cmd_status.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1770000000000ull

static void status_case(const char *text, size_t len)
{
	struct store_counts sc = { 1, 2, 3, 4 };
	json_error_t jerr;
	json_t *st = json_loadb(text, len, 0, &jerr);

	if (st != NULL && json_is_object(st)) {
		print_text(st, 1, &sc);
		print_text(st, 0, NULL);
	}
	json_decref(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	char *s;
	int64_t lat, lon, ms;
	uint64_t r, v;
	uint8_t id[WM_ID_LEN];

	if (size < 1)
		return 0;
	if (!quiet) {
		/* what status prints (the readers' error lines go to stderr,
		 * which sanitizer reports need: run libFuzzer with -close_fd_mask=2) */
		if (freopen("/dev/null", "w", stdout) == NULL)
			abort();
		quiet = 1;
	}
	s = malloc(size);
	if (s == NULL)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 6) {
	case 0:
		if (parse_circle(s, &lat, &lon, &r) == 0 &&
		    (lat < -90000000 || lat > 90000000 || lon < -180000000 || lon > 180000000 ||
		     r == 0 || r > 20000000))
			abort();
		break;
	case 1:
		if (parse_expires(s, NOW_MS, &v) == 0 && v == 0)
			abort();
		break;
	case 2:
		if (cli_parse_time(s, &ms) == 0 && ms <= 0)
			abort();
		break;
	case 3:
		if (cli_parse_uint(s, 100000, &v) == 0 && v > 100000)
			abort();
		break;
	case 4:
		cli_resolve_id(NULL, s, id);
		break;
	default:
		status_case(s, size - 1);
		break;
	}
	free(s);
	return 0;
}
