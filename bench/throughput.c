/* throughput.c: client assertions per second from one process through the
 * public API (one context, one key, one login), against which the floor's
 * raw C_Sign rate is compared. A benchmark program, not part of the product.
 *
 * usage: throughput [-c CERT-FILE] [-a ps256|rs256] MODULE KEY-URI
 *                   PIN-SOURCE N
 * Signs one assertion untimed (it logs in, as the floor logs in before its
 * loop), then N assertions timed, and prints "R assertions/s". With -c the
 * certificate is read once from a file instead of from the token. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <entrakey.h>

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
fail(struct ek_ctx *ctx, const char *what, ek_err r)
{
    fprintf(stderr, "throughput: %s: %s (%s)\n", what, ek_ctx_errmsg(ctx),
            ek_strerror(r));
    return 1;
}

int
main(int argc, char **argv)
{
    struct ek_ctx *ctx = NULL;
    struct ek_key *key = NULL;
    struct ek_cert *cert = NULL;
    struct ek_secret *jwt = NULL;
    struct ek_assertion_params ap;
    const char *cert_file = NULL;
    enum ek_alg alg = EK_ALG_PS256;
    long n, i;
    double t0, t1;
    ek_err r;
    int c, rc = 1;

    while ((c = getopt(argc, argv, "c:a:")) != -1) {
        switch (c) {
        case 'c':
            cert_file = optarg;
            break;
        case 'a':
            if (strcmp(optarg, "rs256") == 0)
                alg = EK_ALG_RS256;
            else if (strcmp(optarg, "ps256") != 0)
                goto usage;
            break;
        default:
            goto usage;
        }
    }
    if (argc - optind != 4 || (n = atol(argv[optind + 3])) < 1) {
usage:
        fprintf(stderr, "usage: throughput [-c CERT-FILE] [-a ps256|rs256] "
                        "MODULE KEY-URI PIN-SOURCE N\n");
        return 2;
    }
    if (ek_ctx_new(&ctx) != EK_OK) {
        fprintf(stderr, "throughput: out of memory\n");
        return 1;
    }
    if ((r = ek_ctx_set_module(ctx, argv[optind])) != EK_OK) {
        rc = fail(ctx, "module", r);
        goto out;
    }
    if ((r = ek_ctx_set_pin_source(ctx, argv[optind + 2])) != EK_OK) {
        rc = fail(ctx, "PIN source", r);
        goto out;
    }
    if ((r = ek_key_open(ctx, argv[optind + 1], &key)) != EK_OK) {
        rc = fail(ctx, "opening the key", r);
        goto out;
    }
    if (cert_file != NULL &&
        (r = ek_cert_load_file(ctx, cert_file, &cert)) != EK_OK) {
        rc = fail(ctx, "reading the certificate", r);
        goto out;
    }
    memset(&ap, 0, sizeof ap);
    ap.tenant = "contoso.onmicrosoft.com";
    ap.client_id = "00000000-0000-0000-0000-000000000001";
    ap.cloud = EK_CLOUD_GLOBAL;
    ap.alg = alg;
    ap.cert = cert;
    /* i = -1: the untimed first assertion, which logs in */
    t0 = 0;
    for (i = -1; i < n; i++) {
        if (i == 0)
            t0 = now();
        if ((r = ek_assertion_sign(ctx, key, &ap, &jwt)) != EK_OK) {
            rc = fail(ctx, "signing", r);
            goto out;
        }
        ek_secret_free(&jwt);
    }
    t1 = now();
    printf("%.1f assertions/s\n", (double)n / (t1 - t0));
    rc = 0;
out:
    ek_secret_free(&jwt);
    ek_cert_free(&cert);
    ek_key_free(&key);
    ek_ctx_free(&ctx);
    return rc;
}
