/* cab: unpacks Microsoft cabinets — the compressed form symbol servers send
 * (.pd_, .dl_, .ex_) — into the single file they carry. Owns the libmspack
 * glue: a size-capped output, libmspack's codes turned into readable reasons,
 * and the rule that a failed extraction leaves nothing behind. */
#ifndef SYMBOLD_CAB_H
#define SYMBOLD_CAB_H

#include <stddef.h>
#include <stdint.h>

/* Extracts the (first) file of the cabinet at `cab_path` into `out_path`
 * (created or truncated, mode 0644). MSZIP, LZX and Quantum are handled.
 * Refuses with -EFBIG, before extracting, if the file's declared size exceeds
 * `max_size`, and stops with -EFBIG if the output would grow past it anyway.
 * Returns 0; -EINVAL not a cabinet or corrupt/truncated data; -EFBIG too
 * large; -ENOENT the cabinet holds no file; another negative errno for I/O
 * errors. On failure `err` says why and nothing is left at `out_path`. */
int cab_extract(const char *cab_path, const char *out_path, uint64_t max_size, char *err, size_t errlen);

/* 1 if the bytes start with the cabinet signature "MSCF". */
int cab_is_cabinet(const void *data, size_t len);

#endif
