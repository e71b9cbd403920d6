// CRC-32C (Castagnoli), the checksum of cached chunks. On x86-64 with SSE4.2 it runs on the
// CPU's `crc32` instruction over three independent streams (the instruction has a latency of
// three cycles and a throughput of one), joined with a table that shifts a CRC register past
// one stream's length of zero bytes; elsewhere a table of 256 entries, byte by byte.
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include "CPosix.h"

#define POLY 0x82F63B78u  /* reflected */
#define STREAM 4096       /* bytes per stream of a three-way block */

static uint32_t byte_table[256];
static uint32_t shift_table[4][256];  /* register -> register after STREAM zero bytes */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/// The register after `n` zero bytes, in software (used only to build the tables).
static uint32_t zeros(uint32_t reg, size_t n) {
    while (n--) reg = (reg >> 8) ^ byte_table[reg & 0xFF];
    return reg;
}

static void build_tables(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (POLY & (0u - (c & 1)));
        byte_table[i] = c;
    }
    // Shifting is linear: the image of each of the 32 basis registers, then every byte value
    // of each of the four byte positions as the XOR of its bits' images.
    uint32_t basis[32];
    for (int b = 0; b < 32; b++) basis[b] = zeros(1u << b, STREAM);
    for (int k = 0; k < 4; k++) {
        for (uint32_t v = 0; v < 256; v++) {
            uint32_t r = 0;
            for (int j = 0; j < 8; j++) if (v & (1u << j)) r ^= basis[8 * k + j];
            shift_table[k][v] = r;
        }
    }
}

static inline uint32_t shift(uint32_t reg) {
    return shift_table[0][reg & 0xFF] ^ shift_table[1][(reg >> 8) & 0xFF]
        ^ shift_table[2][(reg >> 16) & 0xFF] ^ shift_table[3][reg >> 24];
}

static uint32_t software(uint32_t reg, const uint8_t *p, size_t n) {
    while (n--) reg = (reg >> 8) ^ byte_table[(reg ^ *p++) & 0xFF];
    return reg;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
static uint32_t hardware(uint32_t reg, const uint8_t *p, size_t n) {
    uint64_t a = reg;
    while (n >= 3 * STREAM) {
        uint64_t b = 0, c = 0;
        const uint8_t *q = p + STREAM, *r = p + 2 * STREAM;
        for (size_t i = 0; i < STREAM; i += 8) {
            uint64_t x, y, z;
            memcpy(&x, p + i, 8);
            memcpy(&y, q + i, 8);
            memcpy(&z, r + i, 8);
            a = _mm_crc32_u64(a, x);
            b = _mm_crc32_u64(b, y);
            c = _mm_crc32_u64(c, z);
        }
        a = shift(shift((uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)c;
        p += 3 * STREAM;
        n -= 3 * STREAM;
    }
    while (n >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        a = _mm_crc32_u64(a, x);
        p += 8;
        n -= 8;
    }
    uint32_t r32 = (uint32_t)a;
    while (n--) r32 = _mm_crc32_u8(r32, *p++);
    return r32;
}
#endif

uint32_t oggedge_crc32c(uint32_t crc, const void *bytes, size_t count) {
    pthread_once(&once, build_tables);
    uint32_t reg = ~crc;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return ~hardware(reg, bytes, count);
#endif
    return ~software(reg, bytes, count);
}
