/* replay.c — runs a libFuzzer target's LLVMFuzzerTestOneInput on files, for
 * make check (built with gcc under ASan+UBSan, no clang needed): every file
 * of the directories (or the files) named on the command line, by default
 * tests/fuzz/corpus/<target> and tests/fuzz/crashes/<target> (FUZZ_TARGET is
 * set by the Makefile).  One line per file, then cmocka's closing lines,
 * which tests/run.sh counts.  A crash or a sanitizer report ends the run
 * with a non-zero status (a failure); a missing crashes folder is no
 * failure (nothing crashed yet). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int passed, failed;

static void replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		printf("[  FAILED  ] %s: cannot open: %s\n", path, strerror(errno));
		failed++;
		return;
	}
	do {
		if (len == cap) {
			uint8_t *d = realloc(data, cap ? cap * 2 : 4096);

			if (d == NULL) {
				fprintf(stderr, "%s: out of memory\n", path);
				exit(1);
			}
			data = d;
			cap = cap ? cap * 2 : 4096;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	/* a buffer of exactly the file's size, as libFuzzer gives */
	{
		uint8_t *exact = malloc(len > 0 ? len : 1);

		if (exact == NULL)
			exit(1);
		if (len > 0)
			memcpy(exact, data, len);
		free(data);
		printf("[ RUN      ] %s\n", path);
		fflush(stdout);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	printf("[       OK ] %s\n", path);
	passed++;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_path(const char *path, int must_exist)
{
	struct stat st;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	DIR *d;

	if (stat(path, &st) != 0) {
		if (must_exist) {
			printf("[  FAILED  ] %s: %s\n", path, strerror(errno));
			failed++;
		}
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	d = opendir(path);
	if (d == NULL) {
		printf("[  FAILED  ] %s: %s\n", path, strerror(errno));
		failed++;
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char **nn;

		if (e->d_name[0] == '.')
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (nn == NULL || (nn[n] = malloc(strlen(path) + strlen(e->d_name) + 2)) == NULL)
			exit(1);
		names = nn;
		sprintf(names[n++], "%s/%s", path, e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		replay_file(names[i]);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			replay_path(argv[i], 1);
	} else {
		replay_path("tests/fuzz/corpus/" FUZZ_TARGET, 1);
		replay_path("tests/fuzz/crashes/" FUZZ_TARGET, 0);
	}
	printf("[==========] %d test(s) run.\n", passed + failed);
	printf("[  PASSED  ] %d test(s).\n", passed);
	if (failed > 0)
		printf("[  FAILED  ] %d test(s).\n", failed);
	return failed > 0;
}
