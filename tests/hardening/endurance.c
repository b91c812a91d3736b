/* endurance.c: many assertions in one process through the public API, with
 * the memory measured: the heap in use and the resident set after a warm-up
 * and at the end must be the same within a small bound.
 *
 *   hd_endurance KEY-URI PIN-SOURCE CERT-FILE COUNT [CYCLES]
 *
 * Phase 1: one context and one key, COUNT assertions signed and each
 * verified (ek_assertion_verify), measured after COUNT/10 and after COUNT.
 * Phase 2: CYCLES times a whole context (module load, C_Initialize, login,
 * one assertion, everything freed), measured after CYCLES/10 and at the
 * end. Without a sanitizer or valgrind the bounds are checked (COUNT must be
 * at least 200); under them the leak checkers judge at exit. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <entrakey.h>

#define TENANT "contoso.onmicrosoft.com"
#define CLIENT "11111111-2222-3333-4444-555555555555"
/* Growth allowed between the two measurements. Run with
 * GLIBC_TUNABLES=glibc.malloc.tcache_count=0: glibc's per-thread cache
 * holds freed chunks that mallinfo2 counts as in use, which makes the heap
 * seem to grow by some 100 KiB until the cache is full; without it the heap
 * in use is exactly the same after 200 and after 2,000 assertions. */
#define HEAP_BOUND 4096 /* a leak of 3 bytes an assertion fails */
#define RSS_BOUND (1024 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define MEASURED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEASURED 0
#endif
#endif
#ifndef MEASURED
#define MEASURED 1
#endif

static const char *key_uri, *pin_source, *cert_file;

struct mem {
    long rss;  /* bytes resident */
    long heap; /* bytes in use by malloc */
};

static struct mem
measure(void)
{
    struct mem m = {0, 0};
    struct mallinfo2 mi;
    long pages = 0;
    FILE *f;

    if ((f = fopen("/proc/self/statm", "r")) != NULL) {
        if (fscanf(f, "%*d %ld", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    m.rss = pages * sysconf(_SC_PAGESIZE);
    mi = mallinfo2();
    m.heap = (long)mi.uordblks + (long)mi.hblkhd;
    return m;
}

static int
fail(const char *what, struct ek_ctx *ctx, ek_err e)
{
    fprintf(stderr, "hd_endurance: %s: %s (%s)\n", what,
            ctx != NULL ? ek_ctx_errmsg(ctx) : "", ek_strerror(e));
    return 1;
}

/* One assertion with k, verified with cert. */
static int
one(struct ek_ctx *ctx, struct ek_key *k, const struct ek_cert *cert,
    unsigned i)
{
    struct ek_assertion_params p;
    struct ek_secret *jwt = NULL;
    ek_err e;

    memset(&p, 0, sizeof p);
    p.tenant = TENANT;
    p.client_id = CLIENT;
    p.alg = i % 2 ? EK_ALG_RS256 : EK_ALG_PS256;
    if ((e = ek_assertion_sign(ctx, k, &p, &jwt)) != EK_OK)
        return fail("ek_assertion_sign", ctx, e);
    e = ek_assertion_verify(ctx, ek_secret_data(jwt), cert);
    ek_secret_free(&jwt);
    if (e != EK_OK)
        return fail("ek_assertion_verify", ctx, e);
    return 0;
}

static int
report(const char *phase, unsigned n0, struct mem a, unsigned n1, struct mem b)
{
    long dh = b.heap - a.heap, dr = b.rss - a.rss;

    printf("%s: after %u: heap %ld B, RSS %ld KiB; after %u: heap %ld B, "
           "RSS %ld KiB; growth: heap %+ld B, RSS %+ld KiB\n",
           phase, n0, a.heap, a.rss / 1024, n1, b.heap, b.rss / 1024, dh,
           dr / 1024);
    if (!MEASURED || getenv("HD_NO_BOUNDS") != NULL) {
        printf("%s: bounds not checked (sanitizer or valgrind build: the "
               "leak checker judges)\n",
               phase);
        return 0;
    }
    if (dh > HEAP_BOUND || dr > RSS_BOUND) {
        fprintf(stderr,
                "hd_endurance: %s: memory grew by %ld B of heap and "
                "%ld KiB resident between %u and %u (bounds %d B, %d KiB)\n",
                phase, dh, dr / 1024, n0, n1, HEAP_BOUND, RSS_BOUND / 1024);
        return 1;
    }
    printf("%s: flat (within %d B of heap and %d KiB resident)\n", phase,
           HEAP_BOUND, RSS_BOUND / 1024);
    return 0;
}

static int
phase_one(unsigned count)
{
    struct ek_ctx *ctx = NULL;
    struct ek_key *k = NULL;
    struct ek_cert *cert = NULL;
    struct mem a = {0, 0}, b;
    unsigned i, warm = count / 10;
    ek_err e;
    int rc = 1;

    if ((e = ek_ctx_new(&ctx)) != EK_OK)
        return fail("ek_ctx_new", NULL, e);
    if ((e = ek_ctx_set_pin_source(ctx, pin_source)) != EK_OK ||
        (e = ek_key_open(ctx, key_uri, &k)) != EK_OK ||
        (e = ek_cert_load_file(ctx, cert_file, &cert)) != EK_OK) {
        rc = fail("setting up", ctx, e);
        goto out;
    }
    for (i = 0; i < count; i++) {
        if (i == warm)
            a = measure();
        if (one(ctx, k, cert, i) != 0)
            goto out;
    }
    b = measure();
    printf("phase 1: %u assertions signed on the token and verified\n", count);
    rc = report("phase 1 (one key, many assertions)", warm, a, count, b);
out:
    ek_cert_free(&cert);
    ek_key_free(&k);
    ek_ctx_free(&ctx);
    return rc;
}

static int
phase_two(unsigned cycles)
{
    struct ek_ctx *ctx = NULL;
    struct ek_key *k = NULL;
    struct ek_cert *cert = NULL;
    struct mem a = {0, 0}, b;
    unsigned i, warm = cycles / 10;
    ek_err e;

    for (i = 0; i < cycles; i++) {
        if (i == warm)
            a = measure();
        if ((e = ek_ctx_new(&ctx)) != EK_OK)
            return fail("ek_ctx_new", NULL, e);
        if ((e = ek_ctx_set_pin_source(ctx, pin_source)) != EK_OK ||
            (e = ek_key_open(ctx, key_uri, &k)) != EK_OK ||
            (e = ek_cert_load_file(ctx, cert_file, &cert)) != EK_OK ||
            one(ctx, k, cert, i) != 0) {
            fail("cycle", ctx, e);
            ek_cert_free(&cert);
            ek_key_free(&k);
            ek_ctx_free(&ctx);
            return 1;
        }
        ek_cert_free(&cert);
        ek_key_free(&k);
        ek_ctx_free(&ctx);
    }
    b = measure();
    printf("phase 2: %u contexts made, used and freed\n", cycles);
    return report("phase 2 (a context per assertion)", warm, a, cycles, b);
}

int
main(int argc, char **argv)
{
    unsigned count, cycles = 0;
    int rc;

    if (argc < 5) {
        fprintf(stderr, "usage: hd_endurance KEY-URI PIN-SOURCE CERT-FILE "
                        "COUNT [CYCLES]\n");
        return 2;
    }
    key_uri = argv[1];
    pin_source = argv[2];
    cert_file = argv[3];
    count = (unsigned)strtoul(argv[4], NULL, 10);
    if (argc > 5)
        cycles = (unsigned)strtoul(argv[5], NULL, 10);
    if (count == 0) {
        fprintf(stderr, "hd_endurance: COUNT must be at least 1\n");
        return 2;
    }
    rc = phase_one(count);
    if (rc == 0 && cycles > 0)
        rc = phase_two(cycles);
    return rc;
}
