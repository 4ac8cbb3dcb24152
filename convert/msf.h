/* msf: the Multi-Stream File container of a PDB (MSF 7.0) — the superblock,
 * the stream directory and reading a stream's bytes through its block list.
 * The one MSF reader: identify takes GUID and age through it, the PDB reader
 * every other stream. Every block number and size is checked against the
 * file once, in msf_open, so reads afterwards need only the stream's size. */
#ifndef SYMBOLD_MSF_H
#define SYMBOLD_MSF_H

#include <stddef.h>
#include <stdint.h>

#define MSF_MAGIC_LEN 32
#define MSF_NIL_STREAM 0xFFFFFFFFu

struct msf {
	const uint8_t *data; /* the whole file, the caller's */
	size_t len;
	uint32_t block_size;
	uint32_t num_blocks;
	uint8_t *dir; /* the stream directory, reassembled from its blocks */
	size_t dir_len;
	uint32_t num_streams;
	uint64_t *lists; /* where each stream's block list starts in dir */
};

/* 1 if the bytes start with the MSF 7.0 magic. */
int msf_is_msf7(const void *data, size_t len);

/* Opens the container over `data` (kept, not copied). 0, or -EINVAL with
 * the reason (bad magic, block size, truncation, a block out of range,
 * streams claiming more blocks than the file has), -ENOMEM. The streams'
 * sizes add up to no more than `len`. Close with msf_close whatever it returned. */
int msf_open(struct msf *m, const void *data, size_t len, char *err, size_t errlen);
void msf_close(struct msf *m);

/* The same over the first `len` bytes of a file of `total` bytes (0: not
 * known), to judge a download as it arrives: 0 when the superblock, the
 * block map and the directory all lie within them (checked as msf_open
 * checks them, the block count against `total`); -EAGAIN when they do not
 * yet, *need saying how long the prefix must grow for the next step;
 * -EINVAL, -ENOMEM. msf_read then answers -EAGAIN for stream bytes in
 * blocks past the prefix (msf_needed says how far they lie). */
int msf_open_prefix(struct msf *m, const void *data, size_t len, uint64_t total, uint64_t *need, char *err,
		    size_t errlen);

/* The length of file that holds bytes [off, off + n) of stream i (the end
 * of the furthest block); 0 if the stream is absent, nil or shorter. */
uint64_t msf_needed(const struct msf *m, uint32_t i, uint64_t off, size_t n);

/* The size of stream i; 0 if it is absent or nil. */
uint32_t msf_stream_size(const struct msf *m, uint32_t i);

/* Copies bytes [off, off + n) of stream i into out: 0, or -ENOENT if the
 * stream is absent, nil or shorter (-EAGAIN: past a prefix). */
int msf_read(const struct msf *m, uint32_t i, uint64_t off, void *out, size_t n);

/* The whole of stream i in a new allocation (*out, *len; the caller frees).
 * An absent or nil stream is -ENOENT; an empty one is 0 with *len 0. */
int msf_read_stream(const struct msf *m, uint32_t i, uint8_t **out, size_t *len);

#endif
