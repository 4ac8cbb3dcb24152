#include "convert/msf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/reader.h"

static const char MSF7_MAGIC[] = "Microsoft C/C++ MSF 7.00\r\n\x1a"
				 "DS\0\0\0";
#define MSF_SUPERBLOCK_LEN (MSF_MAGIC_LEN + 6 * 4)

int msf_is_msf7(const void *data, size_t len)
{
	return len >= MSF_MAGIC_LEN && memcmp(data, MSF7_MAGIC, MSF_MAGIC_LEN) == 0;
}

static int valid_block_size(uint32_t bs)
{
	return bs == 512 || bs == 1024 || bs == 2048 || bs == 4096;
}

static uint64_t blocks_for(uint32_t bytes, uint32_t block_size)
{
	return bytes == MSF_NIL_STREAM ? 0 : ((uint64_t)bytes + block_size - 1) / block_size;
}

static uint32_t raw_stream_size(const struct msf *m, uint32_t i)
{
	return le32(m->dir + 4 + 4 * (size_t)i);
}

/* Past the bytes at hand: a truncated file, or in a prefix (need set) the
 * length it must grow to before the next step. */
static int beyond(uint64_t end, uint64_t *need, char *err, size_t errlen, const char *what)
{
	if (need) {
		*need = end;
		return -EAGAIN;
	}
	return say(err, errlen, -EINVAL, "%s", what);
}

/* Copies the directory's blocks (listed in the block map) into m->dir. */
static int read_directory(struct msf *m, uint32_t dir_bytes, uint32_t map_block, uint64_t *need, char *err,
			  size_t errlen)
{
	uint64_t dir_blocks = blocks_for(dir_bytes, m->block_size);
	uint64_t map_off = (uint64_t)map_block * m->block_size, end = dir_bytes;
	if (map_block >= m->num_blocks)
		return say(err, errlen, -EINVAL, "PDB block map outside the file");
	if (!in_bounds(m->len, map_off, dir_blocks * 4))
		return beyond(map_off + dir_blocks * 4, need, err, errlen, "PDB block map outside the file");
	/* every block first: a prefix waits for the last of them (and, were
	 * blocks repeated, for dir_bytes: the copy never outgrows the input) */
	for (uint64_t i = 0; i < dir_blocks; i++) {
		uint32_t block = le32(m->data + map_off + 4 * i);
		if (block >= m->num_blocks)
			return say(err, errlen, -EINVAL, "PDB directory block %u out of range", block);
		uint64_t block_end = ((uint64_t)block + 1) * m->block_size;
		end = block_end > end ? block_end : end;
	}
	if (end > m->len)
		return beyond(end, need, err, errlen, "PDB directory beyond end of file");
	m->dir = malloc(dir_bytes);
	if (!m->dir)
		return say(err, errlen, -ENOMEM, "out of memory");
	m->dir_len = dir_bytes;
	for (uint64_t i = 0; i < dir_blocks; i++) {
		uint32_t block = le32(m->data + map_off + 4 * i);
		size_t done = (size_t)i * m->block_size;
		size_t chunk = dir_bytes - done < m->block_size ? dir_bytes - done : m->block_size;
		memcpy(m->dir + done, m->data + (size_t)block * m->block_size, chunk);
	}
	return 0;
}

/* Checks every stream's block list: it fits in the directory and names
 * only blocks inside the file; notes where each list starts. After this,
 * reading streams needs no checks beyond the stream's own size.
 *
 * An MSF is a file system: a block belongs to one stream at most (the
 * superblock, free block maps and directory own blocks of their own). So
 * the streams together hold fewer blocks than the file; a directory whose
 * streams claim more reuses blocks, and would let a small file declare
 * gigabytes of streams that reading them whole (as the PDB reader does)
 * turns into memory. Refusing it bounds all streams, read once each, by
 * the file's size. */
static int check_streams(struct msf *m, char *err, size_t errlen)
{
	if (m->dir_len < 4)
		return say(err, errlen, -EINVAL, "PDB stream directory too short");
	m->num_streams = le32(m->dir);
	if (m->num_streams > (m->dir_len - 4) / 4)
		return say(err, errlen, -EINVAL, "PDB directory claims %u streams", m->num_streams);
	m->lists = malloc(((size_t)m->num_streams + 1) * sizeof *m->lists);
	if (!m->lists)
		return say(err, errlen, -ENOMEM, "out of memory");
	uint64_t at = 4 + 4 * (uint64_t)m->num_streams, stream_blocks = 0;
	for (uint32_t i = 0; i < m->num_streams; i++) {
		m->lists[i] = at;
		uint64_t blocks = blocks_for(raw_stream_size(m, i), m->block_size);
		at += 4 * blocks;
		stream_blocks += blocks;
	}
	if (at > m->dir_len)
		return say(err, errlen, -EINVAL, "PDB stream sizes exceed the directory");
	if (stream_blocks > m->num_blocks)
		return say(err, errlen, -EINVAL, "PDB streams claim %llu blocks, the file has %u: blocks reused",
			   (unsigned long long)stream_blocks, m->num_blocks);
	for (uint64_t off = 4 + 4 * (uint64_t)m->num_streams; off < at; off += 4) {
		uint32_t block = le32(m->dir + off);
		if (block >= m->num_blocks)
			return say(err, errlen, -EINVAL, "PDB stream block %u out of range", block);
	}
	return 0;
}

/* msf_open over `len` bytes of a file of file_len bytes (0: not known);
 * need is NULL for a whole file, else where a prefix says how far it must
 * grow for the next step. */
static int open_msf(struct msf *m, const void *data, size_t len, uint64_t file_len, uint64_t *need, char *err,
		    size_t errlen)
{
	memset(m, 0, sizeof *m);
	m->data = data;
	m->len = len;
	size_t n = len < MSF_MAGIC_LEN ? len : MSF_MAGIC_LEN;
	if (memcmp(data, MSF7_MAGIC, n) != 0 || (!need && n < MSF_MAGIC_LEN))
		return say(err, errlen, -EINVAL, "not an MSF 7.0 PDB (bad or truncated magic)");
	if (len < MSF_SUPERBLOCK_LEN)
		return beyond(MSF_SUPERBLOCK_LEN, need, err, errlen, "truncated PDB superblock");
	const uint8_t *sb = m->data + MSF_MAGIC_LEN;
	m->block_size = le32(sb);
	m->num_blocks = le32(sb + 8);
	uint32_t dir_bytes = le32(sb + 12);
	uint32_t map_block = le32(sb + 20);
	if (!valid_block_size(m->block_size))
		return say(err, errlen, -EINVAL, "PDB block size %u invalid", m->block_size);
	/* A PDB is exactly num_blocks blocks long: anything less is truncated. */
	if (file_len && (uint64_t)m->num_blocks * m->block_size > file_len)
		return say(err, errlen, -EINVAL, "truncated PDB: %u blocks of %u bytes declared, file has %llu bytes",
			   m->num_blocks, m->block_size, (unsigned long long)file_len);
	if (dir_bytes == 0 || (file_len && dir_bytes > file_len))
		return say(err, errlen, -EINVAL, "PDB directory size %u invalid", dir_bytes);
	int rc = read_directory(m, dir_bytes, map_block, need, err, errlen);
	return rc < 0 ? rc : check_streams(m, err, errlen);
}

int msf_open(struct msf *m, const void *data, size_t len, char *err, size_t errlen)
{
	return open_msf(m, data, len, len, NULL, err, errlen);
}

int msf_open_prefix(struct msf *m, const void *data, size_t len, uint64_t total, uint64_t *need, char *err,
		    size_t errlen)
{
	*need = 0;
	return open_msf(m, data, len, total, need, err, errlen);
}

void msf_close(struct msf *m)
{
	free(m->dir);
	free(m->lists);
	m->dir = NULL;
	m->lists = NULL;
}

uint32_t msf_stream_size(const struct msf *m, uint32_t i)
{
	if (i >= m->num_streams)
		return 0;
	uint32_t size = raw_stream_size(m, i);
	return size == MSF_NIL_STREAM ? 0 : size;
}

static int stream_present(const struct msf *m, uint32_t i)
{
	return i < m->num_streams && raw_stream_size(m, i) != MSF_NIL_STREAM;
}

uint64_t msf_needed(const struct msf *m, uint32_t i, uint64_t off, size_t n)
{
	if (!stream_present(m, i) || !in_bounds(raw_stream_size(m, i), off, n))
		return 0;
	uint64_t end = 0;
	for (uint64_t at = off - off % m->block_size; at < off + n; at += m->block_size) {
		uint32_t block = le32(m->dir + m->lists[i] + 4 * (at / m->block_size));
		uint64_t block_end = ((uint64_t)block + 1) * m->block_size;
		end = block_end > end ? block_end : end;
	}
	return end ? end : 1; /* n == 0: nothing to read, at hand already */
}

int msf_read(const struct msf *m, uint32_t i, uint64_t off, void *out, size_t n)
{
	uint64_t end = msf_needed(m, i, off, n);
	if (end == 0)
		return -ENOENT;
	if (end > m->len) /* a prefix (msf_open_prefix) that stops short of it */
		return -EAGAIN;
	uint8_t *dst = out;
	for (size_t done = 0; done < n;) {
		uint64_t at = off + done;
		uint32_t block = le32(m->dir + m->lists[i] + 4 * (at / m->block_size));
		size_t within = at % m->block_size;
		size_t chunk = m->block_size - within < n - done ? m->block_size - within : n - done;
		memcpy(dst + done, m->data + (size_t)block * m->block_size + within, chunk);
		done += chunk;
	}
	return 0;
}

int msf_read_stream(const struct msf *m, uint32_t i, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (!stream_present(m, i))
		return -ENOENT;
	uint32_t size = raw_stream_size(m, i);
	/* never NULL, so an empty stream still reads as present */
	uint8_t *bytes = malloc(size ? size : 1);
	if (!bytes)
		return -ENOMEM;
	int rc = msf_read(m, i, 0, bytes, size);
	if (rc < 0) {
		free(bytes);
		return rc;
	}
	*out = bytes;
	*len = size;
	return 0;
}
