/* threads.c: the public API from several threads at once, as entrakey.h
 * documents it: one context per thread, each opening the key and signing
 * assertions on the same token, with contexts made and freed while the
 * other threads sign.
 *
 *   hd_threads KEY-URI PIN-SOURCE CERT-FILE OUT-FILE THREADS ROUNDS N
 *
 * Each thread runs ROUNDS rounds of: a new context, ek_key_open, N
 * assertions (the certificate read from the token), each verified with
 * ek_assertion_verify against CERT-FILE, then everything freed. Every
 * assertion is written to OUT-FILE, one a line, for python3-jwt to verify
 * independently. Exit 0 only when every call succeeded. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <entrakey.h>

#define TENANT "contoso.onmicrosoft.com"
#define CLIENT "11111111-2222-3333-4444-555555555555"

static const char *key_uri, *pin_source, *cert_file;
static unsigned rounds, per_round;

struct worker {
    pthread_t thread;
    unsigned id;
    char **jwts; /* rounds * per_round, NULL where signing failed */
    unsigned signed_ok;
    char error[1024]; /* the first failure, for the report */
};

static void
note(struct worker *w, const char *what, struct ek_ctx *ctx, ek_err e)
{
    if (w->error[0] == '\0')
        snprintf(w->error, sizeof w->error, "thread %u: %s: %s (%s)", w->id,
                 what, ctx != NULL ? ek_ctx_errmsg(ctx) : "no context",
                 ek_strerror(e));
}

static void *
work(void *arg)
{
    struct worker *w = arg;
    struct ek_assertion_params p;
    struct ek_ctx *ctx = NULL;
    struct ek_key *k = NULL;
    struct ek_cert *cert = NULL;
    struct ek_secret *jwt = NULL;
    unsigned r, i;
    ek_err e;

    for (r = 0; r < rounds; r++) {
        if ((e = ek_ctx_new(&ctx)) != EK_OK) {
            note(w, "ek_ctx_new", NULL, e);
            goto out;
        }
        if ((e = ek_ctx_set_pin_source(ctx, pin_source)) != EK_OK) {
            note(w, "ek_ctx_set_pin_source", ctx, e);
            goto out;
        }
        if ((e = ek_key_open(ctx, key_uri, &k)) != EK_OK) {
            note(w, "ek_key_open", ctx, e);
            goto out;
        }
        if ((e = ek_cert_load_file(ctx, cert_file, &cert)) != EK_OK) {
            note(w, "ek_cert_load_file", ctx, e);
            goto out;
        }
        memset(&p, 0, sizeof p);
        p.tenant = TENANT;
        p.client_id = CLIENT;
        p.alg = (w->id + r) % 2 ? EK_ALG_RS256 : EK_ALG_PS256;
        for (i = 0; i < per_round; i++) {
            if ((e = ek_assertion_sign(ctx, k, &p, &jwt)) != EK_OK) {
                note(w, "ek_assertion_sign", ctx, e);
                goto out;
            }
            if ((e = ek_assertion_verify(ctx, ek_secret_data(jwt), cert)) !=
                EK_OK) {
                note(w, "ek_assertion_verify", ctx, e);
                goto out;
            }
            w->jwts[r * per_round + i] = strdup(ek_secret_data(jwt));
            ek_secret_free(&jwt);
            w->signed_ok++;
        }
        ek_cert_free(&cert);
        ek_key_free(&k);
        ek_ctx_free(&ctx);
    }
out:
    ek_secret_free(&jwt);
    ek_cert_free(&cert);
    ek_key_free(&k);
    ek_ctx_free(&ctx);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct worker *ws;
    unsigned nthreads, t, i, total = 0, want;
    FILE *out;
    int failed = 0;

    if (argc != 8) {
        fprintf(stderr, "usage: hd_threads KEY-URI PIN-SOURCE CERT-FILE "
                        "OUT-FILE THREADS ROUNDS N\n");
        return 2;
    }
    key_uri = argv[1];
    pin_source = argv[2];
    cert_file = argv[3];
    nthreads = (unsigned)atoi(argv[5]);
    rounds = (unsigned)atoi(argv[6]);
    per_round = (unsigned)atoi(argv[7]);
    if (nthreads == 0 || nthreads > 64 || rounds == 0 || per_round == 0) {
        fprintf(stderr, "hd_threads: bad counts\n");
        return 2;
    }
    if ((ws = calloc(nthreads, sizeof *ws)) == NULL)
        return 1;
    for (t = 0; t < nthreads; t++) {
        ws[t].id = t;
        ws[t].jwts = calloc(rounds * per_round, sizeof *ws[t].jwts);
        if (ws[t].jwts == NULL)
            return 1;
    }
    for (t = 0; t < nthreads; t++)
        if (pthread_create(&ws[t].thread, NULL, work, &ws[t]) != 0) {
            fprintf(stderr, "hd_threads: pthread_create failed\n");
            return 1;
        }
    for (t = 0; t < nthreads; t++)
        pthread_join(ws[t].thread, NULL);

    if ((out = fopen(argv[4], "w")) == NULL) {
        perror(argv[4]);
        return 1;
    }
    want = rounds * per_round;
    for (t = 0; t < nthreads; t++) {
        if (ws[t].error[0] != '\0') {
            fprintf(stderr, "%s\n", ws[t].error);
            failed = 1;
        }
        if (ws[t].signed_ok != want) {
            fprintf(stderr, "thread %u signed %u of %u\n", t, ws[t].signed_ok,
                    want);
            failed = 1;
        }
        for (i = 0; i < want; i++) {
            if (ws[t].jwts[i] != NULL) {
                fprintf(out, "%s\n", ws[t].jwts[i]);
                total++;
            }
            free(ws[t].jwts[i]);
        }
        free(ws[t].jwts);
    }
    fclose(out);
    free(ws);
    printf("%u threads: %u assertions signed and verified\n", nthreads, total);
    return failed;
}
