/* key: the identity of one symbol file — (debug file, debug id, file) — and
 * the rules that decide whether a path component can name one. Every module
 * speaks in keys: the tree parses them from paths, the fetcher turns them into
 * upstream URLs, the store into relative paths. No I/O here. */
#ifndef SYMBOLD_KEY_H
#define SYMBOLD_KEY_H

#include <stddef.h>

#define KEY_NAME_MAX 200 /* longest debug file / file name accepted */
#define KEY_ID_MAX 40    /* GUID (32) + age (up to 8 hex digits) */
#define KEY_PATH_MAX (2 * KEY_NAME_MAX + KEY_ID_MAX + 3)

/* gdb's debug-file-directory layout: .build-id/<xx>/<rest>[.debug], where xx
 * is the first byte of an ELF build-id in hex and rest the others; and
 * .build-id/<xx>/<rest>.sym, Breakpad symbols made from <rest>.debug. */
#define KEY_BUILD_ID_DIR ".build-id"
#define KEY_BUILD_ID_MIN 16  /* hex digits: 8 bytes (lld's fast build-id) */
#define KEY_BUILD_ID_MAX 128 /* hex digits: 64 bytes */

enum key_kind {
	KEY_SYMBOL,   /* <debug_file>/<debug_id>/<file> */
	KEY_BUILD_ID, /* .build-id/<xx>/<rest>[.debug|.sym]: an ELF (or its .sym) named by its full build-id */
};

struct sym_key {
	enum key_kind kind;
	char debug_file[KEY_NAME_MAX + 1]; /* as requested: upstreams may be case-sensitive;
					    * a build-id key: ".build-id", the name lists match */
	char debug_id[KEY_ID_MAX + 1];     /* canonical case (see key_normalize_id); build-id key: "" */
	char file[KEY_NAME_MAX + 1];       /* as requested; build-id key: "<rest>[.debug|.sym]", lower case */
	char build_id[KEY_BUILD_ID_MAX + 1]; /* build-id key: the full build-id, lower-case hex; a symbol
					      * key of an ELF: its build-id when known (the fetcher fills
					      * it for debuginfod), else "" */
	int executable;                    /* build-id key: the executable rather than its debug info */
};

/* 1 if `name` can be a debug file or symbol file name: 1..KEY_NAME_MAX bytes of
 * printable ASCII, no path separators or Windows-reserved characters, not "."
 * or "..", no leading dot (reserved for .symbold and .build-id), no leading or
 * trailing space. */
int key_valid_name(const char *name);

/* Canonicalises a debug id into `out`. Accepted shapes:
 *   33..40 hex digits — PDB GUID+age or Breakpad ELF/Mach-O id: upper case;
 *    9..16 hex digits — PE TimeDateStamp (8) + SizeOfImage: "%08X%x", as
 *                       symstore writes it.
 * Returns 0, or -EINVAL for anything else. */
int key_normalize_id(const char *id, char out[KEY_ID_MAX + 1]);

/* The Breakpad symbol file name of a debug file: "xul.pdb" -> "xul.sym",
 * anything else gets ".sym" appended ("libc.so.6" -> "libc.so.6.sym"), as
 * Breakpad's SimpleSymbolSupplier does. Returns -ENAMETOOLONG if it won't fit. */
int key_sym_name(const char *debug_file, char *out, size_t outlen);

/* Fills `k` from three path components; -ENOENT unless all are valid and
 * `file` is either the debug file itself or its Breakpad .sym (case-insensitive). */
int key_make(struct sym_key *k, const char *debug_file, const char *debug_id, const char *file);

/* Canonicalises a full build-id into `out`: an even number (whole bytes) of
 * KEY_BUILD_ID_MIN..KEY_BUILD_ID_MAX hex digits, in lower case. Returns 0,
 * or -EINVAL for anything else. */
int key_normalize_build_id(const char *hex, char out[KEY_BUILD_ID_MAX + 1]);

/* 1 if `name` can be a .build-id/<xx> directory: two hex digits, any case. */
int key_build_id_dir_valid(const char *name);

/* Fills `k` with a build-id key from the two components below .build-id:
 * `xx` and `name` = "<rest>.debug" (the debug info), "<rest>" (the
 * executable) or "<rest>.sym" (Breakpad symbols, made from the debug info),
 * hex in any case. -ENOENT unless xx + rest is a valid build-id
 * (key_normalize_build_id). */
int key_make_build_id(struct sym_key *k, const char *xx, const char *name);

/* 1 if the key asks for the Breakpad .sym form rather than the debug file. */
int key_wants_sym(const struct sym_key *k);

/* The key's canonical relative path "debug_file/ID/file" with names in lower
 * case — a build-id key's ".build-id/xx/rest[.debug]", gdb's layout, which
 * the store keeps out of the root listing as a dot-directory — the store
 * path and the coalescing identity. */
void key_relpath(const struct sym_key *k, char out[KEY_PATH_MAX]);
/* The same with names as they were asked ("Xul.pdb/ID/Xul.sym"): what a
 * case-sensitive server (an S3 tier) names the key by. */
void key_path_asked(const struct sym_key *k, char out[KEY_PATH_MAX]);

/* The key's "debug_file/ID" pair — debug file in lower case, canonical id;
 * a build-id key's ".build-id/<full build-id>" — the form list entries name
 * a key by. */
#define KEY_PAIR_MAX (KEY_NAME_MAX + KEY_ID_MAX + 2)
void key_pair(const struct sym_key *k, char out[KEY_PAIR_MAX]);

/* A module's code file and id, named with its debug id (a missing record's
 * last two fields): an ELF's build-id, or a PE's timestamp and size. */
struct code_ref {
	const char *debug_id, *code_file, *code_id;
};

/* Lower-cases ASCII in place. */
void key_lower(char *s);

#endif
