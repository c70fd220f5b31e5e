/*
 * Fuzz target: key files (crypto/wmcrypto.c's keyfile_decode and
 * keyfile_is_encrypted, node/keyfile.c's files_key_pub, which reads the
 * public line without decrypting), on arbitrary text.  An encrypted file
 * is opened with the passphrase "passphrase" only at the cheapest Argon2id
 * cost (1 pass, 8 KiB), so that a fuzzed cost does not stall the run.
 * Invariants (abort on violation): every refusal has a reason; the three
 * readers agree on what the file is; a file that opens names the same
 * public key to files_key_pub, and its key re-encodes to a file that opens
 * to the same key.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "keyfile.h"
#include "wmcrypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_key(const struct key *k, const char *text, size_t size)
{
	uint8_t pub[WM_PUB_LEN];
	char path[64], why[WM_WHY_LEN], *again = NULL;
	struct key *k2 = NULL;
	int fd = memfd_create("keyfile", 0);

	if (fd < 0 || write(fd, text, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (files_key_pub(path, pub, why) != 0 || memcmp(pub, k->pub, WM_PUB_LEN) != 0)
		abort();
	close(fd);
	if (k->sec == NULL)
		return;
	if (keyfile_encode(k, NULL, 0, KEYFILE_MODERATE, &again) != 0 ||
	    keyfile_decode(again, strlen(again), NULL, 0, &k2, why, sizeof why) != 0 ||
	    memcmp(k2->pub, k->pub, WM_PUB_LEN) != 0 || k2->sec == NULL)
		abort();
	wmc_wipe(again, strlen(again));
	free(again);
	key_free(k2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), why[WM_WHY_LEN];
	struct key *k = NULL;
	int enc, rc;

	if (text == NULL || wmc_init() != 0)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	enc = keyfile_is_encrypted(text, size);
	why[0] = '\0';
	rc = keyfile_decode(text, size, NULL, 0, &k, why, sizeof why);
	if (rc == WM_ENEEDPASS && strstr(text, "argon2id 1 8192 ") != NULL) {
		why[0] = '\0';
		rc = keyfile_decode(text, size, "passphrase", 10, &k, why, sizeof why);
		if (rc == WM_ENEEDPASS)
			abort();
	}
	if (rc != 0) {
		if (why[0] == '\0' || (rc == WM_ENEEDPASS && enc != 1) || (enc == WM_EFORMAT && rc != WM_EFORMAT))
			abort();
	} else {
		if (enc == WM_EFORMAT)
			abort();
		check_key(k, text, size);
	}
	key_free(k);
	free(text);
	return 0;
}
