/* scan: crash processors' reports of missing symbols, read into `missing`
 * records, for `symbold-admin scan` — Breakpad minidump_stackwalk output
 * (its -m "Module|..." lines; its plain output's "(WARNING: No symbols,
 * FILE, ID)" modules; its log's "Couldn't load symbols for: FILE|ID") and
 * Socorro-style CSV (debug_file,debug_id,code_file,code_id with an object
 * column, or given one). Pure: text in, records out; whether a record is
 * good is the daemon's to say. libc only, like symbold-admin. */
#ifndef SYMBOLD_SCAN_H
#define SYMBOLD_SCAN_H

#include <stddef.h>

#define SCAN_FIELD_MAX 256

struct scan_record {
	char object[SCAN_FIELD_MAX];
	char debug_file[SCAN_FIELD_MAX];
	char debug_id[SCAN_FIELD_MAX];
	char code_file[SCAN_FIELD_MAX]; /* "" if unknown */
	char code_id[SCAN_FIELD_MAX];
};

typedef int (*scan_fn)(const struct scan_record *r, void *ctx);

/* Calls fn for each record of `text` (returning early with fn's non-zero
 * answer). `object` names the crash report for records that do not name
 * one (stackwalk output; CSV without an object column), or NULL; then a
 * stackwalk output's records take `report_name` (the report's file name),
 * and records of neither are an error. The number of records, or -EINVAL
 * with "line N: reason" in err. */
int scan_text(const char *text, size_t len, const char *object, const char *report_name, scan_fn fn, void *ctx,
	      char *err, size_t errlen);

/* The record as a line of `missing` (no newline); 0, or -ENOSPC. */
int scan_format_record(const struct scan_record *r, char *out, size_t outlen);

#endif
