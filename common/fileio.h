/* fileio.h — reading whole files, secret files and CSV lines. */
#ifndef SYNCD_COMMON_FILEIO_H
#define SYNCD_COMMON_FILEIO_H

#include <stddef.h>

/* Reads a whole file.  Returns a new NUL-terminated string (caller frees) or
 * NULL with a message naming the file in err. */
char *file_read_all(const char *path, size_t *len, char *err, size_t errlen);

/* Reads a secret (password, key): refuses a file that group or others may
 * read, with a message that says how to fix it.  Trailing newlines are
 * stripped.  A relative path is looked up in $CREDENTIALS_DIRECTORY first
 * (systemd LoadCredential=).  Returns a new string or NULL with err set. */
char *secret_file_read(const char *path, char *err, size_t errlen);

/* Splits one CSV line (RFC 4180 quoting, no embedded newlines) in place.
 * Returns the number of fields (at most max), or -1 on an unterminated quote. */
int csv_split(char *line, char **fields, int max);

#endif
