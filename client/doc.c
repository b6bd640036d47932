/* tenderctl: procurement documents. Content travels base64-encoded (OpenSSL's EVP block
 * coding) and is checked against the SHA-256 the server computed when it stored it. */
#include "client/doc.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Whether s looks like a media type: "type/subtype", optionally with parameters. */
static int doc_is_media_type(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash != NULL && slash > s && slash[1] != '\0' && strchr(slash + 1, '/') == NULL &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&^_.+-/;= \"") ==
		       strlen(s);
}

/* Split PATH[:MEDIA_TYPE] into the path (a new string) and the media type: an argument that
 * names an existing file is a path as a whole; otherwise a media type after its last colon
 * is split off. */
static char *doc_split(const char *arg, const char **media_type)
{
	const char *colon = strrchr(arg, ':');
	struct stat st;

	*media_type = DOC_DEFAULT_TYPE;
	if (stat(arg, &st) == 0 || colon == NULL || colon == arg || !doc_is_media_type(colon + 1))
		return strdup(arg);
	*media_type = colon + 1;
	return strndup(arg, (size_t)(colon - arg));
}

/* Read a whole regular file of at most DOC_FILE_MAX bytes; NULL with the reason in err. */
static unsigned char *doc_read(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;

	if (f == NULL) {
		snprintf(err, errlen, "cannot read document '%s'", path);
		return NULL;
	}
	if ((buf = malloc(DOC_FILE_MAX + 1)) == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*len = fread(buf, 1, DOC_FILE_MAX + 1, f);
	if (ferror(f) || *len > DOC_FILE_MAX) {
		snprintf(err, errlen, ferror(f) ? "cannot read document '%s'" : "document '%s' is larger than 16 MiB",
			 path);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/* Read the file named by `arg` into a new document object. */
json_t *doc_from_file(const char *arg, char *err, size_t errlen)
{
	const char *media_type, *base;
	char *path = doc_split(arg, &media_type), *b64 = NULL;
	unsigned char *data = NULL;
	json_t *doc = NULL;
	size_t len;

	if (path == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	if (*base == '\0')
		snprintf(err, errlen, "document '%s' names a directory, not a file", path);
	else if ((data = doc_read(path, &len, err, errlen)) != NULL) {
		if ((b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
			snprintf(err, errlen, "out of memory");
		else {
			EVP_EncodeBlock((unsigned char *)b64, data, (int)len);
			doc = json_pack("{s:s, s:s, s:s}", "name", base, "media_type", media_type, "content", b64);
			if (doc == NULL)
				snprintf(err, errlen, "document name '%s' or media type '%s' is not valid UTF-8", base,
					 media_type);
		}
	}
	free(b64);
	free(data);
	free(path);
	return doc;
}

/* Decode the content of a document object and check it against its sha256 and size. */
int doc_decode(json_t *doc, unsigned char **data, size_t *len, char hex[65], char *err, size_t errlen)
{
	const char *b64 = json_string_value(json_object_get(doc, "content"));
	const char *sha = json_string_value(json_object_get(doc, "sha256"));
	json_t *size = json_object_get(doc, "size");
	size_t n = b64 != NULL ? strlen(b64) : 0;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int got;

	*data = NULL;
	if (b64 == NULL) {
		snprintf(err, errlen, "the server holds no content for this document (it is described only: size %lld, "
				      "sha256 %s)",
			 (long long)json_integer_value(size), sha != NULL ? sha : "-");
		return -1;
	}
	if (n % 4 != 0 || n / 4 > (size_t)DOC_FILE_MAX || (*data = malloc(n / 4 * 3 + 1)) == NULL ||
	    (got = EVP_DecodeBlock(*data, (const unsigned char *)b64, (int)n)) < 0) {
		free(*data);
		*data = NULL;
		snprintf(err, errlen, "the document's content is not valid base64");
		return -1;
	}
	/* EVP_DecodeBlock counts the bytes the padding stands for; take them off. */
	*len = (size_t)got - (n >= 1 && b64[n - 1] == '=') - (n >= 2 && b64[n - 2] == '=');
	EVP_Digest(*data, *len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (sha == NULL || strcmp(sha, hex) != 0 ||
	    (json_is_integer(size) && json_integer_value(size) != (json_int_t)*len)) {
		snprintf(err, errlen, "sha256 mismatch: the content received (%zu bytes, sha256 %s) is not the document "
				      "(%lld bytes, sha256 %s); nothing written",
			 *len, hex, (long long)json_integer_value(size), sha != NULL ? sha : "-");
		free(*data);
		*data = NULL;
		return -1;
	}
	return 0;
}
