/* fuzz_util.h — what the libFuzzer targets of tests/fuzz/ share: the input
 * cut into parts (files of a policy folder), a NUL-terminated copy, one
 * temporary folder per process that the loaders read their files from.
 * Header-only: each target is one .c built alone (make fuzz) or with
 * tests/fuzz/replay.c (make check). */
#ifndef SYNCD_TESTS_FUZZ_UTIL_H
#define SYNCD_TESTS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Between two parts of an input: a line of three tildes. */
#define FUZZ_SEP "\n~~~\n"

struct fuzz_part {
	const uint8_t *p;
	size_t len;
};

/* Cuts data at each FUZZ_SEP into at most max parts (the last one keeps
 * the rest); returns how many (at least 1). */
static inline size_t fuzz_parts(const uint8_t *data, size_t size, struct fuzz_part *parts, size_t max)
{
	const size_t sl = sizeof(FUZZ_SEP) - 1;
	size_t n = 0, start = 0;

	for (size_t i = 0; n + 1 < max && i + sl <= size; i++)
		if (memcmp(data + i, FUZZ_SEP, sl) == 0) {
			parts[n].p = data + start;
			parts[n++].len = i - start;
			start = i + sl;
			i = start - 1;
		}
	parts[n].p = data + start;
	parts[n++].len = size - start;
	return n;
}

/* A NUL-terminated copy of exactly len bytes (malloc'd, so ASan sees its
 * end); aborts when memory runs out. */
static inline char *fuzz_str(const void *p, size_t len)
{
	char *s = malloc(len + 1);

	if (s == NULL)
		abort();
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

static char fuzz_dir_path[64];

static inline void fuzz_dir_remove(void)
{
	char cmd[96];

	if (fuzz_dir_path[0] != '\0' && snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_dir_path) > 0 &&
	    system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir_path);
}

/* The process's own temporary folder, under $TMPDIR, else /dev/shm, else
 * /tmp (made on first use, removed at exit). */
static inline const char *fuzz_dir(void)
{
	if (fuzz_dir_path[0] == '\0') {
		const char *t = getenv("TMPDIR");

		/* in memory if possible: a file written per run is ten times
		 * slower on a disk */
		if (t == NULL || t[0] != '/')
			t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%.40s/syncd-fuzz.XXXXXX", t);
		if (mkdtemp(fuzz_dir_path) == NULL) {
			perror("fuzz: mkdtemp");
			abort();
		}
		atexit(fuzz_dir_remove);
	}
	return fuzz_dir_path;
}

/* Writes len bytes as name (relative to fuzz_dir(), its folder made if
 * need be); p NULL removes the file instead.  The path goes to out. */
static inline void fuzz_file(const char *name, const void *p, size_t len, char *out, size_t outlen)
{
	FILE *f;

	snprintf(out, outlen, "%s/%s", fuzz_dir(), name);
	if (p == NULL) {
		unlink(out);
		return;
	}
	if (strchr(name, '/') != NULL) {
		char d[256];

		snprintf(d, sizeof(d), "%s/%.*s", fuzz_dir(), (int)(strrchr(name, '/') - name), name);
		mkdir(d, 0700);
	}
	f = fopen(out, "w");
	if (f == NULL || (len > 0 && fwrite(p, 1, len, f) != len) || fclose(f) != 0) {
		perror(out);
		abort();
	}
}

/* Every byte of s read (so ASan checks it is all there). */
volatile char fuzz_sink;

static inline void fuzz_touch(const char *s)
{
	char x = 0;

	if (s != NULL)
		for (; *s; s++)
			x ^= *s;
	fuzz_sink = x;
}

#endif
