/*
 * crc32c.h -- CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected
 * 0x82F63B78), as used by iSCSI, ext4 and SSE4.2's crc32 instruction.
 * Check value: crc32c("123456789") == 0xE3069283.
 */
#ifndef CASKDB_CRC32C_H
#define CASKDB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend `crc` (0 to start) over len bytes and return the new CRC.
 * cdb_crc32c(cdb_crc32c(0, a, n), b, m) == CRC of a followed by b.
 * Uses the SSE4.2 instruction when the CPU has it (checked once, at the
 * first call), else a table-driven routine. */
uint32_t cdb_crc32c(uint32_t crc, const void *buf, size_t len);

/* The two implementations, for the tests. */
uint32_t cdb_crc32c_portable(uint32_t crc, const void *buf, size_t len);
/* Returns 1 when the hardware routine can run on this CPU. */
int cdb_crc32c_hw_available(void);
/* Only call when cdb_crc32c_hw_available() returned 1. */
uint32_t cdb_crc32c_hw(uint32_t crc, const void *buf, size_t len);

#endif /* CASKDB_CRC32C_H */
