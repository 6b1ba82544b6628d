/* Tests for src/io/checkpoint.c: bitwise round trips, the byte layout against
 * a hand-built file, every rejection (each corruption made from a valid file
 * or built byte by byte), the getters' checks and atomic replacement. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <zlib.h>
#include <cmocka.h>

#include "core/status.h"
#include "io/checkpoint.h"
#include "support/support.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* A file built byte by byte, independently of the writer under test. */
typedef struct {
    unsigned char b[4096];
    size_t n;
} raw_file;

static void raw_put(raw_file *r, const void *p, size_t n)
{
    assert_true(r->n + n <= sizeof r->b);
    memcpy(r->b + r->n, p, n);
    r->n += n;
}

static void raw_uint(raw_file *r, uint64_t v, size_t bytes)
{
    for (size_t k = 0; k < bytes; k++, v >>= 8) r->b[r->n++] = (unsigned char)(v & 0xff);
}

static void raw_header(raw_file *r, uint32_t version, uint32_t count)
{
    r->n = 0;
    raw_put(r, "SSMICKPT", 8);
    raw_uint(r, version, 4);
    raw_uint(r, count, 4);
}

static void raw_section(raw_file *r, const char *name, uint32_t type, const void *payload, size_t bytes)
{
    raw_uint(r, strlen(name), 4);
    raw_put(r, name, strlen(name));
    raw_uint(r, type, 4);
    raw_uint(r, bytes, 8);
    raw_put(r, payload, bytes);
}

static uint32_t zlib_crc(const unsigned char *p, size_t n) { return (uint32_t)crc32(0L, p, (uInt)n); }

/* Append the CRC and write the file. */
static void raw_finish(raw_file *r, const char *path)
{
    raw_uint(r, zlib_crc(r->b, r->n), 4);
    sm_test_write(path, r->b, r->n);
}

/* Recompute the trailing CRC of a whole file image after editing it, so the
 * reader gets past the checksum to the check under test. */
static void refresh_crc(unsigned char *buf, size_t n)
{
    uint32_t c = zlib_crc(buf, n - 4);
    for (size_t k = 0; k < 4; k++) buf[n - 4 + k] = (unsigned char)(c >> (8 * k));
}

/* Reading must fail with SM_ERR_DATA, no checkpoint, and a one-line message
 * holding the word and the path. */
static void expect_reject(const char *path, const char *word)
{
    sm_status st;
    sm_status_clear(&st);
    sm_ckpt *c = (sm_ckpt *)&st;  /* anything non-NULL: must be reset */
    assert_int_equal(sm_ckpt_read(path, &c, &st), SM_ERR_DATA);
    assert_null(c);
    assert_int_equal(st.code, SM_ERR_DATA);
    if (!strstr(st.msg, path) || !strstr(st.msg, word) || strchr(st.msg, '\n'))
        fail_msg("message \"%s\" lacks the path or \"%s\"", st.msg, word);
}

static sm_ckpt *read_ok(const char *path)
{
    sm_status st;
    sm_ckpt *c = NULL;
    if (sm_ckpt_read(path, &c, &st)) fail_msg("%s", st.msg);
    assert_non_null(c);
    return c;
}

static sm_ckpt_writer *writer(void)
{
    sm_status st;
    sm_ckpt_writer *w = sm_ckpt_writer_alloc(&st);
    assert_non_null(w);
    return w;
}

static void add_ok(int rc, const sm_status *st)
{
    if (rc) fail_msg("%s", st->msg);
}

static void write_ok(const char *path, const sm_ckpt_writer *w)
{
    sm_status st;
    if (sm_ckpt_write(path, w, &st)) fail_msg("%s", st.msg);
}

/* A small checkpoint like the trainer's: where each payload starts is
 * returned for the corruption tests. */
enum { SAMPLE_PARAMS = 16 };
typedef struct {
    size_t params_at, config_at;   /* offsets of the two payloads */
    size_t params_len, config_len;
} sample_layout;

static const char sample_config[] = "arch=mlp\nz_dim=4\nlr=0.03\n";

static sample_layout write_sample(const char *path)
{
    float params[SAMPLE_PARAMS];
    for (int i = 0; i < SAMPLE_PARAMS; i++) params[i] = 0.25f * (float)i - 1.0f;
    uint64_t step[2] = {1234, 5};
    sm_status st;
    sm_ckpt_writer *w = writer();
    add_ok(sm_ckpt_add_text(w, "config", sample_config, &st), &st);
    add_ok(sm_ckpt_add_u64(w, "step", step, 2, &st), &st);
    add_ok(sm_ckpt_add_f32(w, "params", params, SAMPLE_PARAMS, &st), &st);
    write_ok(path, w);
    sm_ckpt_writer_free(w);
    /* header 16; config: 4 + 6 + 4 + 8; step: 4 + 4 + 4 + 8 + 16; params: 4 + 6 + 4 + 8 */
    sample_layout lay;
    lay.config_at = 16 + 4 + 6 + 4 + 8;
    lay.config_len = strlen(sample_config);
    lay.params_at = lay.config_at + lay.config_len + 4 + 4 + 4 + 8 + 16 + 4 + 6 + 4 + 8;
    lay.params_len = SAMPLE_PARAMS * 4;
    return lay;
}

/* ------------------------------------------------------------------------ */
/* Round trips and layout                                                   */

static void test_round_trip_is_bitwise_for_every_type(void **state)
{
    (void)state;
    const uint32_t fbits[] = {
        0x00000000u, 0x80000000u,              /* +0, -0 */
        0x3f800000u, 0xc0490fdbu,              /* 1, -pi */
        0x00000001u, 0x807fffffu, 0x00400000u, /* denormals */
        0x7f7fffffu, 0x7f800000u, 0xff800000u, /* FLT_MAX, +-Inf */
        0x7fc00000u, 0xffc12345u, 0x7fa00001u, /* quiet NaN, NaN payload, signalling NaN */
    };
    enum { NF = sizeof fbits / sizeof fbits[0] };
    float f[NF];
    for (size_t i = 0; i < NF; i++) f[i] = f32_from_bits(fbits[i]);
    const uint64_t u[] = {0, 1, UINT64_MAX, 0x0123456789abcdefULL, 1ULL << 63};
    unsigned char bytes[256];
    for (int i = 0; i < 256; i++) bytes[i] = (unsigned char)(255 - i);
    const char *config = "dataset=fashion-mnist\nlr=0.03\nout=runs/x y\n\xc3\xa9\n";

    sm_status st;
    sm_ckpt_writer *w = writer();
    add_ok(sm_ckpt_add_f32(w, "params", f, NF, &st), &st);
    add_ok(sm_ckpt_add_u64(w, "rng", u, 5, &st), &st);
    add_ok(sm_ckpt_add_bytes(w, "blob", bytes, sizeof bytes, &st), &st);
    add_ok(sm_ckpt_add_text(w, "config", config, &st), &st);
    add_ok(sm_ckpt_add_f32(w, "empty_f32", NULL, 0, &st), &st);
    add_ok(sm_ckpt_add_text(w, "empty_text", "", &st), &st);
    /* The writer copied: scribbling on the sources now changes nothing. */
    memset(f, 0, sizeof f);
    memset(bytes, 0, sizeof bytes);
    const char *p = sm_test_path("ckpt_types.bin");
    write_ok(p, w);
    sm_ckpt_writer_free(w);

    sm_ckpt *c = read_ok(p);
    const float *rf;
    assert_int_equal(sm_ckpt_get_f32(c, "params", NF, &rf, &st), SM_OK);
    for (size_t i = 0; i < NF; i++) assert_int_equal(bits_of(rf[i]), fbits[i]);
    assert_true(((uintptr_t)rf & 63) == 0);
    assert_true(signbit(rf[1]) && rf[1] == 0.0f);
    assert_true(isnan(rf[11]));
    const uint64_t *ru;
    assert_int_equal(sm_ckpt_get_u64(c, "rng", 5, &ru, &st), SM_OK);
    assert_memory_equal(ru, u, sizeof u);
    const void *rb;
    size_t nb = 0;
    assert_int_equal(sm_ckpt_get_bytes(c, "blob", &rb, &nb, &st), SM_OK);
    assert_int_equal(nb, 256);
    for (int i = 0; i < 256; i++) assert_int_equal(((const unsigned char *)rb)[i], 255 - i);
    const char *text;
    assert_int_equal(sm_ckpt_get_text(c, "config", &text, &st), SM_OK);
    assert_string_equal(text, config);
    assert_int_equal(sm_ckpt_get_f32(c, "empty_f32", 0, &rf, &st), SM_OK);
    assert_int_equal(sm_ckpt_get_text(c, "empty_text", &text, &st), SM_OK);
    assert_string_equal(text, "");
    assert_true(sm_ckpt_has(c, "blob"));
    assert_false(sm_ckpt_has(c, "momentum"));
    sm_ckpt_free(c);
}

/* The exact bytes of a small file, built by hand from the documented format
 * (CRC from Python's zlib.crc32 over the first 89 bytes). */
static void test_layout_matches_the_documented_format(void **state)
{
    (void)state;
    static const unsigned char expected[] = {
        'S', 'S', 'M', 'I', 'C', 'K', 'P', 'T', 1, 0, 0, 0, 3, 0, 0, 0,
        /* "step": u64 0x0102030405060708 */
        4, 0, 0, 0, 's', 't', 'e', 'p', 3, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0,
        8, 7, 6, 5, 4, 3, 2, 1,
        /* "w": f32 1.0 (0x3f800000), -denormal 0x80000001 */
        1, 0, 0, 0, 'w', 2, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0,
        0x00, 0x00, 0x80, 0x3f, 0x01, 0x00, 0x00, 0x80,
        /* "c": text "a=1" */
        1, 0, 0, 0, 'c', 4, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 'a', '=', '1',
        /* CRC-32 0xb2112bd9 */
        0xd9, 0x2b, 0x11, 0xb2};
    const uint64_t step = 0x0102030405060708ULL;
    const float w2[2] = {1.0f, f32_from_bits(0x80000001u)};
    sm_status st;
    sm_ckpt_writer *w = writer();
    add_ok(sm_ckpt_add_u64(w, "step", &step, 1, &st), &st);
    add_ok(sm_ckpt_add_f32(w, "w", w2, 2, &st), &st);
    add_ok(sm_ckpt_add_text(w, "c", "a=1", &st), &st);
    const char *p = sm_test_path("ckpt_layout.bin");
    write_ok(p, w);
    sm_ckpt_writer_free(w);
    size_t n;
    char *got = sm_test_read(p, &n);
    assert_int_equal(n, sizeof expected);
    assert_memory_equal(got, expected, sizeof expected);
    free(got);
    /* ... and the reader accepts a file written by other code. */
    const char *q = sm_test_path("ckpt_layout_by_hand.bin");
    sm_test_write(q, expected, sizeof expected);
    sm_ckpt *c = read_ok(q);
    const uint64_t *ru;
    assert_int_equal(sm_ckpt_get_u64(c, "step", 1, &ru, &st), SM_OK);
    assert_true(ru[0] == step);
    sm_ckpt_free(c);
}

static void test_large_array_round_trips(void **state)
{
    (void)state;
    size_t n = sm_test_slow() ? 200000 : 5000000;
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    /* Bit patterns from a multiplicative hash: every exponent, NaNs included. */
    for (size_t i = 0; i < n; i++) v[i] = f32_from_bits((uint32_t)(i * 2654435761u) ^ 0x5bd1e995u);
    sm_status st;
    sm_ckpt_writer *w = writer();
    add_ok(sm_ckpt_add_f32(w, "params", v, n, &st), &st);
    const char *p = sm_test_path("ckpt_large.bin");
    write_ok(p, w);
    sm_ckpt_writer_free(w);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal((size_t)sb.st_size, 16 + 4 + 6 + 4 + 8 + 4 * n + 4);
    sm_ckpt *c = read_ok(p);
    const float *r;
    assert_int_equal(sm_ckpt_get_f32(c, "params", n, &r, &st), SM_OK);
    assert_memory_equal(r, v, n * sizeof *v);
    sm_ckpt_free(c);
    free(v);
}

/* ------------------------------------------------------------------------ */
/* Corruption, each made from a valid file                                  */

/* Damage to a payload, a name or a type tag leaves the structure intact:
 * the CRC catches it before anything else looks at those bytes. */
static void test_flipped_payload_byte_is_a_checksum_mismatch(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_flip_payload.bin");
    const char *q = sm_test_path("ckpt_flip_payload_bad.bin");
    sample_layout lay = write_sample(p);
    size_t n;
    unsigned char *good = (unsigned char *)sm_test_read(p, &n);
    /* The offsets are right: the payloads hold what was written. */
    assert_memory_equal(good + lay.config_at, sample_config, lay.config_len);
    assert_int_equal(good[lay.params_at + 4 + 3], 0xbf);  /* params[1] = -0.75f = 0xbf400000 */
    /* Both payloads, and the first section's name and type tag. */
    size_t ranges[4][2] = {{lay.config_at, lay.config_len}, {lay.params_at, lay.params_len},
                           {16 + 4, 6}, {16 + 4 + 6, 4}};
    assert_memory_equal(good + 16 + 4, "config", 6);
    for (int r = 0; r < 4; r++) {
        for (size_t k = 0; k < ranges[r][1]; k++) {
            size_t at = ranges[r][0] + k;
            good[at] ^= 0x10;
            sm_test_write(q, good, n);
            expect_reject(q, "checksum mismatch: file is corrupt");
            good[at] ^= 0x10;
        }
    }
    /* The CRC bytes themselves. */
    for (size_t at = n - 4; at < n; at++) {
        good[at] ^= 0x01;
        sm_test_write(q, good, n);
        expect_reject(q, "checksum mismatch");
        good[at] ^= 0x01;
    }
    free(good);
}

/* Any single damaged byte, header and section headers included, is refused
 * with some clear error. */
static void test_any_flipped_byte_is_rejected(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_flip_any.bin");
    const char *q = sm_test_path("ckpt_flip_any_bad.bin");
    write_sample(p);
    size_t n;
    unsigned char *good = (unsigned char *)sm_test_read(p, &n);
    const unsigned char masks[] = {0x01, 0x80, 0xff};
    for (size_t at = 0; at < n; at++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            good[at] ^= masks[m];
            sm_test_write(q, good, n);
            expect_reject(q, "");
            good[at] ^= masks[m];
        }
    }
    free(good);
}

static void test_every_truncation_is_rejected(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_trunc.bin");
    const char *q = sm_test_path("ckpt_trunc_bad.bin");
    write_sample(p);
    size_t n;
    char *good = sm_test_read(p, &n);
    for (size_t len = 0; len < n; len++) {
        sm_test_write(q, good, len);
        expect_reject(q, "truncated");
    }
    /* Where the cut falls decides the message. */
    sm_test_write(q, good, 10);
    expect_reject(q, "file ends inside the header");
    sm_test_write(q, good, 16 + 2);
    expect_reject(q, "file ends inside section 1 of 3");
    sm_test_write(q, good, n - 10);
    expect_reject(q, "checkpoint section 'params' claims 64 bytes but only 58 remain in the file");
    sm_test_write(q, good, n - 4);
    expect_reject(q, "file ends before the checksum");
    sm_test_write(q, good, n - 2);
    expect_reject(q, "file ends before the checksum");
    free(good);
}

static void test_bad_magic(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_magic.bin");
    size_t n;
    write_sample(p);
    char *buf = sm_test_read(p, &n);
    buf[3] = 'X';
    sm_test_write(p, buf, n);
    expect_reject(p, "not a simsiam-mi checkpoint: bad magic");
    free(buf);
    /* Short files that are not a checkpoint prefix at all. */
    sm_test_write_text(p, "{\"x\": 1}");
    expect_reject(p, "bad magic");
    sm_test_write_text(p, "SSMX");
    expect_reject(p, "bad magic");
}

static void test_unsupported_version(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_version.bin");
    size_t n;
    write_sample(p);
    unsigned char *buf = (unsigned char *)sm_test_read(p, &n);
    buf[8] = 99;
    sm_test_write(p, buf, n);
    expect_reject(p, "unsupported checkpoint format version 99; this build reads version 1");
    free(buf);
}

/* Patch the first section's u64 length field (after "config"). */
static void test_section_length_beyond_the_file(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_len.bin");
    size_t n;
    write_sample(p);
    unsigned char *buf = (unsigned char *)sm_test_read(p, &n);
    const size_t len_at = 16 + 4 + 6 + 4;
    assert_int_equal(buf[len_at], strlen(sample_config));
    const uint64_t lengths[] = {n, 1ULL << 40, UINT64_MAX};
    for (size_t k = 0; k < 3; k++) {
        for (size_t b = 0; b < 8; b++) buf[len_at + b] = (unsigned char)(lengths[k] >> (8 * b));
        refresh_crc(buf, n);
        sm_test_write(p, buf, n);
        expect_reject(p, "checkpoint section 'config' claims");
        expect_reject(p, "file is truncated or corrupt");
    }
    free(buf);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_trailing.bin");
    size_t n;
    write_sample(p);
    char *buf = sm_test_read(p, &n);
    char *longer = malloc(n + 3);
    assert_non_null(longer);
    memcpy(longer, buf, n);
    memcpy(longer + n, "abc", 3);
    sm_test_write(p, longer, n + 3);
    expect_reject(p, "3 trailing bytes after the last checkpoint section");
    /* A section count one too small leaves the last section trailing. */
    buf[12] = 2;
    sm_test_write(p, buf, n);
    expect_reject(p, "trailing bytes");
    free(longer);
    free(buf);
}

/* The structural checks made once the checksum matches, on files whose CRC
 * is right (so a buggy or foreign writer, not damage, made them). */
static void test_duplicate_section_names(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_dup.bin");
    const float one = 1.0f;
    sm_status st;
    sm_ckpt_writer *w = writer();
    add_ok(sm_ckpt_add_f32(w, "aaa", &one, 1, &st), &st);
    add_ok(sm_ckpt_add_f32(w, "bbb", &one, 1, &st), &st);
    write_ok(p, w);
    sm_ckpt_writer_free(w);
    size_t n;
    unsigned char *buf = (unsigned char *)sm_test_read(p, &n);
    size_t second_name = 16 + (4 + 3 + 4 + 8 + 4) + 4;
    assert_memory_equal(buf + second_name, "bbb", 3);
    memcpy(buf + second_name, "aaa", 3);
    sm_test_write(p, buf, n);
    expect_reject(p, "checksum mismatch");
    refresh_crc(buf, n);
    sm_test_write(p, buf, n);
    expect_reject(p, "duplicate checkpoint section 'aaa'");
    free(buf);
}

static void test_unknown_type_tag(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_tag.bin");
    raw_file r;
    raw_header(&r, 1, 1);
    raw_section(&r, "x", 9, "abcd", 4);
    raw_finish(&r, p);
    expect_reject(p, "checkpoint section 'x' has unknown type tag 9");
    raw_header(&r, 1, 1);
    raw_section(&r, "x", 0, "", 0);
    raw_finish(&r, p);
    expect_reject(p, "unknown type tag 0");
}

static void test_payload_not_whole_values(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_partial.bin");
    raw_file r;
    raw_header(&r, 1, 1);
    raw_section(&r, "params", SM_CKPT_F32, "abcdef", 6);
    raw_finish(&r, p);
    expect_reject(p, "checkpoint section 'params' holds 6 bytes, not a whole number of 4-byte values");
    raw_header(&r, 1, 1);
    raw_section(&r, "step", SM_CKPT_U64, "abcd", 4);
    raw_finish(&r, p);
    expect_reject(p, "holds 4 bytes, not a whole number of 8-byte values");
}

static void test_text_with_nul_byte(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_nul.bin");
    raw_file r;
    raw_header(&r, 1, 1);
    raw_section(&r, "config", SM_CKPT_TEXT, "a=1\0b=2", 7);
    raw_finish(&r, p);
    expect_reject(p, "checkpoint section 'config' text contains a NUL byte");
    /* The same bytes are fine as a bytes section. */
    raw_header(&r, 1, 1);
    raw_section(&r, "config", SM_CKPT_BYTES, "a=1\0b=2", 7);
    raw_finish(&r, p);
    sm_ckpt_free(read_ok(p));
}

static void test_invalid_section_names(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_name.bin");
    const char *bad[] = {"", "has space", "quote'", "new\nline", "nul\0x"};
    raw_file r;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        raw_header(&r, 1, 2);
        raw_section(&r, "fine", SM_CKPT_TEXT, "x", 1);
        /* The NUL case spells out its bytes (strlen would stop at the NUL). */
        size_t len = k == 4 ? 5 : strlen(bad[k]);
        raw_uint(&r, len, 4);
        raw_put(&r, bad[k], len);
        raw_uint(&r, SM_CKPT_TEXT, 4);
        raw_uint(&r, 1, 8);
        raw_put(&r, "y", 1);
        raw_finish(&r, p);
        expect_reject(p, "checkpoint section 2 has an invalid name");
    }
    /* A name length no writer produces stops the parse at once. */
    raw_header(&r, 1, 1);
    raw_uint(&r, 1000, 4);
    raw_finish(&r, p);
    expect_reject(p, "checkpoint section 1 has a name length of 1000 bytes; names have 1 to 64");
}

static void test_too_many_sections(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_count.bin");
    raw_file r;
    raw_header(&r, 1, 5000);
    raw_finish(&r, p);
    expect_reject(p, "checkpoint claims 5000 sections, more than the limit of 1024");
    /* Zero sections is a valid, empty checkpoint. */
    raw_header(&r, 1, 0);
    raw_finish(&r, p);
    sm_ckpt *c = read_ok(p);
    assert_false(sm_ckpt_has(c, "params"));
    sm_ckpt_free(c);
}

static void test_missing_file_and_directory(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_does_not_exist.bin");
    remove(p);
    expect_reject(p, "cannot open checkpoint: No such file or directory");
    const char *d = sm_test_path("ckpt_a_directory");
    mkdir(d, 0777);
    expect_reject(d, "checkpoint is not a regular file");
}

/* ------------------------------------------------------------------------ */
/* Getters                                                                  */

static void test_getters_check_name_type_and_count(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_get.bin");
    float *params = calloc(1000, sizeof *params);
    assert_non_null(params);
    uint64_t step[2] = {7, 1};
    sm_status st;
    sm_ckpt_writer *w = writer();
    add_ok(sm_ckpt_add_f32(w, "params", params, 1000, &st), &st);
    add_ok(sm_ckpt_add_u64(w, "step", step, 2, &st), &st);
    add_ok(sm_ckpt_add_text(w, "config", "z_dim=4", &st), &st);
    write_ok(p, w);
    sm_ckpt_writer_free(w);
    free(params);

    sm_ckpt *c = read_ok(p);
    const float *f = (const float *)&st;
    const uint64_t *u = (const uint64_t *)&st;
    const char *t = (const char *)&st;
    const void *b = &st;
    size_t nb = 9;
    char want[1200];

    assert_int_equal(sm_ckpt_get_f32(c, "params", 1200, &f, &st), SM_ERR_DATA);
    snprintf(want, sizeof want, "checkpoint section 'params' has 1000 values, expected 1200 (%s)", p);
    assert_string_equal(st.msg, want);
    assert_null(f);

    assert_int_equal(sm_ckpt_get_u64(c, "step", 3, &u, &st), SM_ERR_DATA);
    snprintf(want, sizeof want, "checkpoint section 'step' has 2 values, expected 3 (%s)", p);
    assert_string_equal(st.msg, want);
    assert_null(u);

    assert_int_equal(sm_ckpt_get_f32(c, "momentum", 1000, &f, &st), SM_ERR_DATA);
    snprintf(want, sizeof want, "checkpoint has no section 'momentum' (%s)", p);
    assert_string_equal(st.msg, want);

    assert_int_equal(sm_ckpt_get_u64(c, "params", 1000, &u, &st), SM_ERR_DATA);
    snprintf(want, sizeof want, "checkpoint section 'params' holds f32 values, expected u64 values (%s)", p);
    assert_string_equal(st.msg, want);

    assert_int_equal(sm_ckpt_get_text(c, "step", &t, &st), SM_ERR_DATA);
    snprintf(want, sizeof want, "checkpoint section 'step' holds u64 values, expected text (%s)", p);
    assert_string_equal(st.msg, want);
    assert_null(t);

    assert_int_equal(sm_ckpt_get_bytes(c, "config", &b, &nb, &st), SM_ERR_DATA);
    snprintf(want, sizeof want, "checkpoint section 'config' holds text, expected bytes (%s)", p);
    assert_string_equal(st.msg, want);
    assert_null(b);
    assert_int_equal(nb, 0);

    assert_int_equal(sm_ckpt_get_f32(c, "params", 1000, &f, &st), SM_OK);
    assert_true(f[0] == 0.0f && f[999] == 0.0f);
    assert_int_equal(sm_ckpt_get_u64(c, "step", 2, &u, &st), SM_OK);
    assert_true(u[0] == 7 && u[1] == 1);
    sm_ckpt_free(c);
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */

static void test_writer_refuses_bad_names_and_duplicates(void **state)
{
    (void)state;
    sm_status st;
    const uint64_t v = 1;
    sm_ckpt_writer *w = writer();
    char long_name[SM_CKPT_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *bad[] = {"", "two words", "it's", "tab\t", long_name};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(sm_ckpt_add_u64(w, bad[k], &v, 1, &st), SM_ERR_USAGE);
        assert_non_null(strstr(st.msg, "invalid checkpoint section name"));
    }
    long_name[SM_CKPT_NAME_MAX] = '\0';  /* exactly the limit is fine */
    add_ok(sm_ckpt_add_u64(w, long_name, &v, 1, &st), &st);
    add_ok(sm_ckpt_add_u64(w, "bn.0/running_mean:x-y_z", &v, 1, &st), &st);
    add_ok(sm_ckpt_add_text(w, "config", "a=1", &st), &st);
    assert_int_equal(sm_ckpt_add_f32(w, "config", NULL, 0, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "checkpoint section 'config' added twice");
    /* The refused adds left nothing behind: the file holds the three good sections. */
    const char *p = sm_test_path("ckpt_names.bin");
    write_ok(p, w);
    sm_ckpt_writer_free(w);
    sm_ckpt *c = read_ok(p);
    const uint64_t *u;
    assert_int_equal(sm_ckpt_get_u64(c, long_name, 1, &u, &st), SM_OK);
    assert_int_equal(sm_ckpt_get_u64(c, "bn.0/running_mean:x-y_z", 1, &u, &st), SM_OK);
    const char *t;
    assert_int_equal(sm_ckpt_get_text(c, "config", &t, &st), SM_OK);
    assert_string_equal(t, "a=1");
    sm_ckpt_free(c);
}

static void test_writer_section_limit(void **state)
{
    (void)state;
    sm_status st;
    const uint64_t v = 3;
    sm_ckpt_writer *w = writer();
    char name[32];
    for (int i = 0; i < SM_CKPT_MAX_SECTIONS; i++) {
        snprintf(name, sizeof name, "s%d", i);
        add_ok(sm_ckpt_add_u64(w, name, &v, 1, &st), &st);
    }
    assert_int_equal(sm_ckpt_add_u64(w, "one_more", &v, 1, &st), SM_ERR_USAGE);
    assert_non_null(strstr(st.msg, "the limit is 1024 sections"));
    /* A full writer still makes a file the reader accepts. */
    const char *p = sm_test_path("ckpt_full.bin");
    write_ok(p, w);
    sm_ckpt_writer_free(w);
    sm_ckpt *c = read_ok(p);
    const uint64_t *u;
    assert_int_equal(sm_ckpt_get_u64(c, "s1023", 1, &u, &st), SM_OK);
    assert_true(u[0] == 3);
    sm_ckpt_free(c);
}

/* ------------------------------------------------------------------------ */
/* Atomic replacement                                                       */

static sm_ckpt_writer *steps_writer(uint64_t step, size_t n_params)
{
    float *params = malloc(n_params * sizeof *params);
    assert_non_null(params);
    for (size_t i = 0; i < n_params; i++) params[i] = (float)step + (float)i;
    sm_status st;
    sm_ckpt_writer *w = writer();
    add_ok(sm_ckpt_add_u64(w, "step", &step, 1, &st), &st);
    add_ok(sm_ckpt_add_f32(w, "params", params, n_params, &st), &st);
    free(params);
    return w;
}

static uint64_t read_step(const char *path)
{
    sm_status st;
    sm_ckpt *c = read_ok(path);
    const uint64_t *u;
    assert_int_equal(sm_ckpt_get_u64(c, "step", 1, &u, &st), SM_OK);
    uint64_t step = u[0];
    sm_ckpt_free(c);
    return step;
}

static void test_new_checkpoint_replaces_old_one(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_replace.bin");
    sm_ckpt_writer *w = steps_writer(100, 5000);
    write_ok(p, w);
    sm_ckpt_writer_free(w);
    w = steps_writer(200, 10);
    write_ok(p, w);
    sm_ckpt_writer_free(w);
    assert_int_equal(read_step(p), 200);
    assert_int_equal(sm_test_count_temporaries(p), 0);
}

static void test_failed_write_keeps_old_checkpoint(void **state)
{
    (void)state;
    const char *p = sm_test_path("ckpt_keep.bin");
    sm_ckpt_writer *w = steps_writer(100, 1000);
    write_ok(p, w);
    sm_ckpt_writer_free(w);
    size_t n_old;
    char *old = sm_test_read(p, &n_old);

    /* The destination directory does not exist. */
    sm_status st;
    w = steps_writer(200, 1000);
    const char *bad = sm_test_path("ckpt_no_such_dir/checkpoint.bin");
    assert_int_equal(sm_ckpt_write(bad, w, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "ckpt_no_such_dir/checkpoint.bin"));
    sm_ckpt_writer_free(w);

    /* The disk "fills up" half way through: a file size limit makes the
     * writes fail with EFBIG (root obeys it too) instead of killing us. */
    struct rlimit old_lim, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    lim = old_lim;
    lim.rlim_cur = 65536;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    w = steps_writer(300, 200000);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = sm_ckpt_write(p, w, &st);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_handler);
    sm_ckpt_writer_free(w);
    assert_int_equal(rc, SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "write failed"));
    assert_non_null(strstr(st.msg, p));

    size_t n_now;
    char *now = sm_test_read(p, &n_now);
    assert_int_equal(n_now, n_old);
    assert_memory_equal(now, old, n_old);
    assert_int_equal(read_step(p), 100);
    assert_int_equal(sm_test_count_temporaries(p), 0);
    free(now);
    free(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_is_bitwise_for_every_type),
        cmocka_unit_test(test_layout_matches_the_documented_format),
        cmocka_unit_test(test_large_array_round_trips),
        cmocka_unit_test(test_flipped_payload_byte_is_a_checksum_mismatch),
        cmocka_unit_test(test_any_flipped_byte_is_rejected),
        cmocka_unit_test(test_every_truncation_is_rejected),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_unsupported_version),
        cmocka_unit_test(test_section_length_beyond_the_file),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_duplicate_section_names),
        cmocka_unit_test(test_unknown_type_tag),
        cmocka_unit_test(test_payload_not_whole_values),
        cmocka_unit_test(test_text_with_nul_byte),
        cmocka_unit_test(test_invalid_section_names),
        cmocka_unit_test(test_too_many_sections),
        cmocka_unit_test(test_missing_file_and_directory),
        cmocka_unit_test(test_getters_check_name_type_and_count),
        cmocka_unit_test(test_writer_refuses_bad_names_and_duplicates),
        cmocka_unit_test(test_writer_section_limit),
        cmocka_unit_test(test_new_checkpoint_replaces_old_one),
        cmocka_unit_test(test_failed_write_keeps_old_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
