/* tenderctl: procurement documents, from a local file into a request and from a document.get
 * reply back to bytes whose SHA-256 has been checked. */
#ifndef TENDERCTL_DOC_H
#define TENDERCTL_DOC_H

#include <jansson.h>
#include <stddef.h>

/* Largest local file --document reads. */
#define DOC_FILE_MAX (16 * 1024 * 1024)

/* The media type --document gives when the argument names none. */
#define DOC_DEFAULT_TYPE "application/octet-stream"

/* Read the file named by `arg` (PATH or PATH:MEDIA_TYPE) into a new document object
 * {name: the file's base name, media_type, content: base64}; NULL with the reason in err. */
json_t *doc_from_file(const char *arg, char *err, size_t errlen);

/* Decode the content of a document object and check it against its sha256 and size. Returns
 * 0 with *data (malloc'd, the caller frees it), *len and the content's hash in hex; -1 with
 * the reason in err (no content, bad base64, a mismatch). */
int doc_decode(json_t *doc, unsigned char **data, size_t *len, char hex[65], char *err, size_t errlen);

#endif
