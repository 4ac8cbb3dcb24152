#include "convert/cab.h"

#include <errno.h>
#include <fcntl.h>
#include <mspack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/reader.h"

/* libmspack does all its I/O through a `struct mspack_system`. Ours is plain
 * POSIX I/O plus two things the default lacks: a cap on how much may be
 * written (a lying header must not fill the disk) and a record of the real
 * errno, so a short read (truncated cabinet: bad data) can be told from a
 * failed one (I/O error). One cab_io lives on the stack of each cab_extract. */
struct cab_io {
	struct mspack_system sys; /* first: libmspack passes &sys back to open() */
	const char *out_path;
	uint64_t max_size;
	uint64_t written;
	int out_created; /* out_path was created/truncated: unlink it on failure */
	int too_big;
	int io_errno; /* first genuine I/O error, positive */
	const char *failed_open; /* the file open() failed on */
	char message[160];
};

struct cab_file {
	struct cab_io *io;
	int fd;
	int is_output;
};

/* libmspack reports some complaints with no file handle, so messages find
 * their cab_io through the calling thread instead. */
static _Thread_local struct cab_io *current_io;

static void note_errno(struct cab_io *io, int e)
{
	if (io->io_errno == 0)
		io->io_errno = e ? e : EIO;
}

static struct mspack_file *io_open(struct mspack_system *self, const char *filename, int mode)
{
	struct cab_io *io = (struct cab_io *)self;
	int is_output = mode == MSPACK_SYS_OPEN_WRITE;
	if (mode != MSPACK_SYS_OPEN_READ && !is_output) {
		note_errno(io, EINVAL);
		return NULL;
	}
	struct cab_file *f = malloc(sizeof *f);
	if (!f) {
		note_errno(io, ENOMEM);
		return NULL;
	}
	int flags = is_output ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDONLY | O_CLOEXEC;
	f->fd = open(filename, flags, 0644);
	if (f->fd < 0) {
		note_errno(io, errno);
		io->failed_open = filename;
		free(f);
		return NULL;
	}
	f->io = io;
	f->is_output = is_output;
	if (is_output && strcmp(filename, io->out_path) == 0)
		io->out_created = 1;
	return (struct mspack_file *)f;
}

static void io_close(struct mspack_file *file)
{
	struct cab_file *f = (struct cab_file *)file;
	if (!f)
		return;
	/* A failed close of the output can mean lost data (NFS, quota). */
	if (close(f->fd) < 0 && f->is_output)
		note_errno(f->io, errno);
	free(f);
}

/* Full reads: libmspack takes a short read for end of file. */
static int io_read(struct mspack_file *file, void *buffer, int bytes)
{
	struct cab_file *f = (struct cab_file *)file;
	if (bytes < 0)
		return -1;
	int done = 0;
	while (done < bytes) {
		ssize_t n = read(f->fd, (char *)buffer + done, (size_t)(bytes - done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			note_errno(f->io, errno);
			return -1;
		}
		if (n == 0)
			break;
		done += (int)n;
	}
	return done;
}

static int io_write(struct mspack_file *file, void *buffer, int bytes)
{
	struct cab_file *f = (struct cab_file *)file;
	struct cab_io *io = f->io;
	if (bytes < 0)
		return -1;
	if (f->is_output && (uint64_t)bytes > io->max_size - io->written) {
		io->too_big = 1;
		return -1;
	}
	int done = 0;
	while (done < bytes) {
		ssize_t n = write(f->fd, (const char *)buffer + done, (size_t)(bytes - done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			note_errno(io, n < 0 ? errno : EIO);
			return -1;
		}
		done += (int)n;
	}
	if (f->is_output)
		io->written += (uint64_t)done;
	return done;
}

static int io_seek(struct mspack_file *file, off_t offset, int mode)
{
	struct cab_file *f = (struct cab_file *)file;
	int whence = mode == MSPACK_SYS_SEEK_START ? SEEK_SET : mode == MSPACK_SYS_SEEK_CUR ? SEEK_CUR : SEEK_END;
	if (lseek(f->fd, offset, whence) < 0) {
		note_errno(f->io, errno);
		return -1;
	}
	return 0;
}

static off_t io_tell(struct mspack_file *file)
{
	struct cab_file *f = (struct cab_file *)file;
	return lseek(f->fd, 0, SEEK_CUR);
}

/* Keeps libmspack's last complaint for the error message instead of letting
 * it print to stderr. */
static void io_message(struct mspack_file *file, const char *format, ...)
{
	(void)file;
	if (!current_io)
		return;
	va_list ap;
	va_start(ap, format);
	vsnprintf(current_io->message, sizeof current_io->message, format, ap);
	va_end(ap);
}

static void *io_alloc(struct mspack_system *self, size_t bytes)
{
	(void)self;
	return malloc(bytes);
}

static void io_free(void *ptr)
{
	free(ptr);
}

static void io_copy(void *src, void *dest, size_t bytes)
{
	memmove(dest, src, bytes);
}

/* libmspack's error code (plus what our I/O layer saw) as a negative errno
 * and a reason. Short reads and seeks mean the cabinet is truncated. */
static int mspack_failure(int code, const struct cab_io *io, char *err, size_t errlen)
{
	const char *sep = io->message[0] ? ": " : "", *detail = io->message;
	switch (code) {
	case MSPACK_ERR_OPEN:
		say(err, errlen, 0, "cannot open %s: %s", io->failed_open ? io->failed_open : "file",
		    strerror(io->io_errno ? io->io_errno : EIO));
		return -(io->io_errno ? io->io_errno : EIO);
	case MSPACK_ERR_READ:
	case MSPACK_ERR_SEEK:
		if (io->io_errno) {
			say(err, errlen, 0, "read error: %s", strerror(io->io_errno));
			return -io->io_errno;
		}
		say(err, errlen, 0, "truncated cabinet");
		return -EINVAL;
	case MSPACK_ERR_WRITE:
		if (io->too_big) {
			say(err, errlen, 0, "extracted file grows past the %llu-byte limit",
			    (unsigned long long)io->max_size);
			return -EFBIG;
		}
		say(err, errlen, 0, "write error: %s", strerror(io->io_errno ? io->io_errno : EIO));
		return -(io->io_errno ? io->io_errno : EIO);
	case MSPACK_ERR_NOMEMORY:
		say(err, errlen, 0, "out of memory");
		return -ENOMEM;
	case MSPACK_ERR_SIGNATURE:
		say(err, errlen, 0, "not a cabinet (no MSCF signature)");
		return -EINVAL;
	case MSPACK_ERR_DATAFORMAT:
		say(err, errlen, 0, "corrupt cabinet%s%s", sep, detail);
		return -EINVAL;
	case MSPACK_ERR_CHECKSUM:
		say(err, errlen, 0, "cabinet data block checksum mismatch");
		return -EINVAL;
	case MSPACK_ERR_DECRUNCH:
		say(err, errlen, 0, "corrupt compressed data in cabinet%s%s", sep, detail);
		return -EINVAL;
	default:
		say(err, errlen, 0, "libmspack error %d%s%s", code, sep, detail);
		return -EINVAL;
	}
}

static int extract_first_file(struct mscab_decompressor *cabd, struct mscabd_cabinet *cab, struct cab_io *io,
			      char *err, size_t errlen)
{
	struct mscabd_file *file = cab->files;
	if (!file) {
		say(err, errlen, 0, "cabinet holds no file");
		return -ENOENT;
	}
	/* libmspack decodes the folder from its start and throws away what comes
	 * before the file: up to 2 GiB the limit would not see */
	uint64_t decoded = (uint64_t)file->offset + file->length;
	if (decoded > io->max_size) {
		say(err, errlen, 0, "cabinet file is %u bytes at offset %u of its folder, over the %llu-byte limit",
		    file->length, file->offset, (unsigned long long)io->max_size);
		return -EFBIG;
	}
	int code = cabd->extract(cabd, file, io->out_path);
	if (code != MSPACK_ERR_OK)
		return mspack_failure(code, io, err, errlen);
	if (io->io_errno) { /* the output's close failed */
		say(err, errlen, 0, "write error: %s", strerror(io->io_errno));
		return -io->io_errno;
	}
	return 0;
}

#define CAB_HEADER_LEN 36
#define CAB_HEADER_FILES 28 /* u16 cFiles */

/* Looks at the header before libmspack does: libmspack reads a whole header
 * before checking the signature (so a short error page would pass for a
 * truncated cabinet) and calls a cabinet without files corrupt. */
static int check_header(const char *cab_path, char *err, size_t errlen)
{
	uint8_t head[CAB_HEADER_LEN];
	int fd = open(cab_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		say(err, errlen, 0, "cannot open %s: %s", cab_path, strerror(e));
		return -e;
	}
	ssize_t n;
	do
		n = pread(fd, head, sizeof head, 0);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0) {
		say(err, errlen, 0, "read error: %s", strerror(e));
		return -e;
	}
	if (!cab_is_cabinet(head, (size_t)n)) {
		say(err, errlen, 0, "not a cabinet (no MSCF signature)");
		return -EINVAL;
	}
	if (n == CAB_HEADER_LEN && (head[CAB_HEADER_FILES] | head[CAB_HEADER_FILES + 1]) == 0) {
		say(err, errlen, 0, "cabinet holds no file");
		return -ENOENT;
	}
	return 0;
}

#define CAB_RESV_SIZES 36 /* with MSCAB_HDR_RESV: u16 cbCFHeader, u8 cbCFFolder, u8 cbCFData */
#define CFFOLDER_LEN 8
#define CFDATA_LEN 8
#define LZX_INPUT_BUFFER 4096 /* libmspack's MSCABD_PARAM_DECOMPBUF default */

/* 0 and the `n` bytes at `off`, or -1. */
static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
	ssize_t got;
	do
		got = pread(fd, buf, n, (off_t)off);
	while (got < 0 && errno == EINTR);
	return got == (ssize_t)n ? 0 : -1;
}

/* The bytes of compressed data in every CFDATA block of `folder` but its
 * last, or 0 if they cannot be counted. */
static uint64_t data_before_last_block(int fd, const struct mscabd_cabinet *cab, const struct mscabd_folder *folder)
{
	uint8_t b[CFDATA_LEN];
	uint64_t at = (uint64_t)cab->base_offset + CAB_HEADER_LEN, folder_resv = 0, data_resv = 0;
	if (cab->flags & MSCAB_HDR_RESV) {
		if (read_at(fd, b, 4, (uint64_t)cab->base_offset + CAB_RESV_SIZES) < 0)
			return 0;
		folder_resv = b[2];
		data_resv = b[3];
		at += 4 + (uint64_t)cab->header_resv;
	}
	for (const struct mscabd_folder *f = cab->folders; f != folder; f = f->next) {
		if (!f)
			return 0;
		at += CFFOLDER_LEN + folder_resv;
	}
	if (read_at(fd, b, CFFOLDER_LEN, at) < 0)
		return 0;
	at = (uint64_t)cab->base_offset + le32(b); /* coffCabStart */
	uint64_t total = 0;
	for (unsigned i = 0; i + 1 < folder->num_blocks; i++) {
		if (read_at(fd, b, CFDATA_LEN, at) < 0)
			return 0;
		total += le16(b + 4); /* cbData */
		at += CFDATA_LEN + data_resv + le16(b + 4);
	}
	return total;
}

/* libmspack's LZX decoder learns the length of a folder's output only when
 * it reads the folder's last CFDATA block, yet it sizes each 32 KiB frame
 * before reading that frame's data, and it reads its input in pieces the
 * size of its input buffer. When the blocks before the last end exactly on a
 * multiple of that size, the last block is not read yet when the final,
 * shorter frame is sized: it is taken for a full frame and a valid cabinet
 * fails as corrupt (cabextract fails it too; libgcab and 7-Zip extract it).
 * So for an LZX folder the input buffer gets a size that does not divide
 * that length: returns it, or 0 to keep libmspack's default. A cabinet set
 * is left alone (its folders continue in files we do not have). */
static int lzx_input_buffer(const char *cab_path, const struct mscabd_cabinet *cab)
{
	const struct mscabd_folder *folder = cab->files ? cab->files->folder : NULL;
	if (!folder || MSCABD_COMP_METHOD(folder->comp_type) != MSCAB_COMP_LZX || folder->num_blocks < 2 ||
	    (cab->flags & (MSCAB_HDR_PREVCAB | MSCAB_HDR_NEXTCAB)))
		return 0;
	int fd = open(cab_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	uint64_t before_last = data_before_last_block(fd, cab, folder);
	close(fd);
	int size = LZX_INPUT_BUFFER;
	/* sizes stay even (libmspack rounds them up); a length that many
	 * consecutive even numbers divide is far longer than a cabinet */
	while (before_last && before_last % (uint64_t)size == 0 && size < LZX_INPUT_BUFFER + 256)
		size += 2;
	return size == LZX_INPUT_BUFFER ? 0 : size;
}

static int open_and_extract(struct mscab_decompressor *cabd, const char *cab_path, struct cab_io *io, char *err,
			    size_t errlen)
{
	struct mscabd_cabinet *cab = cabd->open(cabd, cab_path);
	if (!cab)
		return mspack_failure(cabd->last_error(cabd), io, err, errlen);
	int input_buffer = lzx_input_buffer(cab_path, cab);
	if (input_buffer)
		cabd->set_param(cabd, MSCABD_PARAM_DECOMPBUF, input_buffer);
	int rc = extract_first_file(cabd, cab, io, err, errlen);
	cabd->close(cabd, cab);
	return rc;
}

int cab_extract(const char *cab_path, const char *out_path, uint64_t max_size, char *err, size_t errlen)
{
	int selftest;
	MSPACK_SYS_SELFTEST(selftest);
	if (selftest != MSPACK_ERR_OK) { /* off_t differs between libmspack and us */
		say(err, errlen, 0, "libmspack ABI mismatch (off_t)");
		return -ENOSYS;
	}
	int rc = check_header(cab_path, err, errlen);
	if (rc < 0)
		return rc;
	struct cab_io io = {
		.sys = {io_open, io_close, io_read, io_write, io_seek, io_tell, io_message, io_alloc, io_free,
			io_copy, NULL},
		.out_path = out_path,
		.max_size = max_size,
	};
	struct mscab_decompressor *cabd = mspack_create_cab_decompressor(&io.sys);
	if (!cabd) {
		say(err, errlen, 0, "out of memory");
		return -ENOMEM;
	}
	struct cab_io *saved = current_io;
	current_io = &io;
	rc = open_and_extract(cabd, cab_path, &io, err, errlen);
	current_io = saved;
	mspack_destroy_cab_decompressor(cabd);
	if (rc < 0 && io.out_created)
		unlink(out_path);
	return rc;
}

int cab_is_cabinet(const void *data, size_t len)
{
	return data && len >= 4 && memcmp(data, "MSCF", 4) == 0;
}
