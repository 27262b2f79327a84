/* fileio.c — whole files, secret files (refused when others may read them;
 * $CREDENTIALS_DIRECTORY) and CSV lines; see fileio.h. */
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *file_read_all(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t got;

		if (cap - n < 4096) {
			char *p = realloc(data, cap ? cap * 2 : 8192);

			if (p == NULL) {
				snprintf(err, errlen, "%s: out of memory", path);
				free(data);
				fclose(f);
				return NULL;
			}
			data = p;
			cap = cap ? cap * 2 : 8192;
		}
		got = fread(data + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		free(data);
		fclose(f);
		return NULL;
	}
	fclose(f);
	data[n] = '\0';
	if (len != NULL)
		*len = n;
	return data;
}

char *secret_file_read(const char *path, char *err, size_t errlen)
{
	char full[PATH_MAX];
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	struct stat st;
	char *s;
	size_t n;
	int fd;

	if (path[0] != '/' && creds != NULL && creds[0] != '\0') {
		snprintf(full, sizeof(full), "%s/%s", creds, path);
		if (access(full, F_OK) == 0)
			path = full;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open secret file: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen,
			 "%s: secret file is readable by group or others (mode %04o); "
			 "fix with: chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return NULL;
	}
	close(fd);
	s = file_read_all(path, &n, err, errlen);
	if (s == NULL)
		return NULL;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

int csv_split(char *line, char **fields, int max)
{
	char *r = line, *w = line;
	int nf = 0;

	/* strip the line end; CSV from Windows editors ends in CRLF */
	size_t len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';

	for (;;) {
		char *start = w;

		if (*r == '"') {
			r++;
			for (;;) {
				if (*r == '\0')
					return -1;
				if (*r == '"') {
					if (r[1] == '"') {
						*w++ = '"';
						r += 2;
						continue;
					}
					r++;
					break;
				}
				*w++ = *r++;
			}
			while (*r != ',' && *r != '\0')
				*w++ = *r++;
		} else {
			while (*r != ',' && *r != '\0')
				*w++ = *r++;
		}
		if (nf < max)
			fields[nf] = start;
		nf++;
		if (*r == '\0') {
			*w = '\0';
			break;
		}
		r++;
		*w++ = '\0';
	}
	return nf > max ? max : nf;
}
