/* tenderctl: readable output of procurement replies: procurements, their lots and opening
 * records, lists, offers, questions, participants. */
#ifndef TENDERCTL_PROCVIEW_H
#define TENDERCTL_PROCVIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Whether a procurement is over for a watcher: awarded, unsuccessful, complete or cancelled. */
int procview_final(json_t *p);

/* Print the full description of a procurement object; the time left to each deadline is
 * measured against the object's server_time. */
void procview_procurement(FILE *f, json_t *p);

/* Print the deadline lines of a procurement, with the time left from `now` (the server's
 * clock, ms) while the deadline is ahead and the procurement is not over. */
void procview_deadlines(FILE *f, json_t *p, int64_t now);

/* Print a lot's opening record as a table, at most max_rows offers. */
void procview_opening(FILE *f, json_t *p, json_t *lot, size_t max_rows);

/* Who made the offer of an opening row: its organization, or its alias ("Bidder 2") while
 * identities are hidden. */
const char *procview_who(json_t *row);

/* Describe a lot's outcome into buf: "awarded offer 9: Gamma Office Ltd at 4300000.00 RUB",
 * "unsuccessful", or "" while undecided. */
void procview_outcome(json_t *p, json_t *lot, char *buf, size_t n);

/* Print the offers of the viewing supplier (your_offers), if there are any. */
void procview_your_offers(FILE *f, json_t *p);

/* Print a procurement.list reply as a table: rows, after the heading when `heading` (then
 * an empty list says so). */
void procview_list(json_t *reply, int heading);

/* Print the reply to quote.* or bid.submit/withdraw/confirm; req is the request sent. */
void procview_offer(json_t *req, json_t *reply);

/* Print a question.ask reply; req is the request sent. */
void procview_question(json_t *req, json_t *reply);

/* Print a participant.suspend or participant.reinstate reply. */
void procview_participant(json_t *reply);

/* Print an organization.suspend or organization.reinstate reply. */
void procview_organization(json_t *reply);

#endif
