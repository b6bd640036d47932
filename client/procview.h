/* tenderctl: readable procurement output and base64 for documents. */
#ifndef TENDERCTL_PROCVIEW_H
#define TENDERCTL_PROCVIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Encode `n` bytes as base64 into out (room for 4 * ((n + 2) / 3) + 1). */
void procview_b64_encode(const unsigned char *in, size_t n, char *out);
/* Decode base64 into out (room for 3 * strlen / 4); the length, or -1. */
long procview_b64_decode(const char *in, unsigned char *out);
/* Print one procurement object. */
void procview_procurement(FILE *f, json_t *p);
/* Print a procurement, offer, question, list or participant reply. */
void procview_reply(json_t *reply);

#endif
