/* floor.c: the least any tool can do for one assertion: load the module,
 * log in, find the key, and C_Sign one SHA-256 hash with the mechanism
 * entrakey uses. The benchmark's baseline; not part of the product.
 *
 * usage: floor [-p] [-t URL -c CLIENT-ID -x X5T-S256 -s SCOPE -a CA-FILE]
 *              MODULE TOKEN-LABEL KEY-LABEL PIN-FILE [MODE] [N]
 * MODE is the mechanism entrakey -v says it used: pss (CKM_RSA_PKCS_PSS
 * over a SHA-256 made here, the default), pkcs1 (CKM_RSA_PKCS over a
 * DigestInfo), sha256-pss (CKM_SHA256_RSA_PKCS_PSS) or sha256-pkcs1
 * (CKM_SHA256_RSA_PKCS), the last two over the whole message.
 * With N > 1 it signs once (untimed, as the throughput program does), then
 * loops C_SignInit/C_Sign N times in one session and prints signatures per
 * second (the raw rate). With -p it prints on stderr the milliseconds each
 * phase took (load, initialize, open+login, find, sign, finalize): the
 * floor of each phase of `entrakey -v assert`.
 *
 * With -t it is the token floor: the signature is a real PS256 client
 * assertion (header with x5t#S256, claims aud=URL, iss=sub=CLIENT-ID, jti,
 * nbf, iat, exp), posted once with libcurl over TLS (the CA file trusted)
 * to URL as the client-credentials form, which must answer 200 with an
 * access_token: the least any tool can do for one token (MODE pss or
 * sha256-pss; N must be 1). */
#include <dlfcn.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST_PTR f;

static void
die(const char *what, CK_RV rv)
{
    fprintf(stderr, "floor: %s failed: 0x%lx\n", what, (unsigned long)rv);
    exit(1);
}

/* base64url without padding of n bytes of in, appended at out */
static size_t
b64url(char *out, const unsigned char *in, size_t n)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    int i;

    while (len > 0 && out[len - 1] == '=')
        len--;
    for (i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[len] = '\0';
    return (size_t)len;
}

struct resp {
    char buf[16384];
    size_t n;
};

static size_t
on_body(char *p, size_t sz, size_t nm, void *arg)
{
    struct resp *r = arg;
    size_t k = sz * nm;

    if (r->n + k >= sizeof r->buf)
        return 0;
    memcpy(r->buf + r->n, p, k);
    r->n += k;
    r->buf[r->n] = '\0';
    return k;
}

/* Posts the client-credentials form with the assertion; 0 on a 200 that
 * carries an access_token. */
static int
post(const char *url, const char *client, const char *scope, const char *ca,
     const char *jwt)
{
    static char form[8192];
    struct resp r;
    CURL *c;
    char *esc;
    long status = 0;
    int ok;

    if ((c = curl_easy_init()) == NULL)
        return -1;
    esc = curl_easy_escape(c, scope, 0);
    snprintf(form, sizeof form,
             "grant_type=client_credentials&client_id=%s&scope=%s"
             "&client_assertion_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3A"
             "client-assertion-type%%3Ajwt-bearer&client_assertion=%s",
             client, esc, jwt);
    curl_free(esc);
    r.n = 0;
    r.buf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    ok = curl_easy_perform(c) == CURLE_OK &&
         curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
         status == 200 && strstr(r.buf, "\"access_token\"") != NULL;
    curl_easy_cleanup(c);
    if (!ok)
        fprintf(stderr, "floor: the token endpoint said %ld: %.200s\n", status,
                r.buf);
    return ok ? 0 : -1;
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    static const unsigned char digestinfo[] = {
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    CK_C_GetFunctionList getfl;
    CK_C_INITIALIZE_ARGS ia;
    CK_SLOT_ID slots[64];
    CK_ULONG nslots = 64, i, found = 0;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[2];
    CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mech;
    unsigned char msg[2048], in[51], sig[1024], pin[256];
    size_t msglen = 600;
    const char *url = NULL, *client = NULL, *x5t = NULL, *scope = NULL;
    const char *ca = NULL;
    char jwt[4096];
    size_t jn = 0;
    CK_ULONG siglen, inlen = 0;
    size_t pinlen;
    FILE *pf;
    void *h;
    long n = 1, k;
    double t0, tp[7];
    const char *mode;
    int phases = 0, hash, c;
    CK_RV rv;

    tp[0] = now();
    while ((c = getopt(argc, argv, "+pt:c:x:s:a:")) != -1) {
        switch (c) {
        case 'p':
            phases = 1;
            break;
        case 't':
            url = optarg;
            break;
        case 'c':
            client = optarg;
            break;
        case 'x':
            x5t = optarg;
            break;
        case 's':
            scope = optarg;
            break;
        case 'a':
            ca = optarg;
            break;
        default:
            goto usage;
        }
    }
    argc -= optind - 1;
    argv += optind - 1;
    if (argc < 5) {
usage:
        fprintf(stderr, "usage: floor [-p] [-t URL -c CLIENT-ID -x X5T-S256 "
                        "-s SCOPE -a CA-FILE] MODULE TOKEN KEY PIN-FILE "
                        "[MODE] [N]\n");
        return 2;
    }
    if (argc > 6 && (n = atol(argv[6])) < 1)
        goto usage;
    if (url != NULL && (client == NULL || x5t == NULL || scope == NULL ||
                        ca == NULL || n != 1))
        goto usage;
    memset(msg, 'a', msglen); /* about the size of a header.payload */
    mode = argc > 5 ? argv[5] : "pss";
    mech.pParameter = NULL;
    mech.ulParameterLen = 0;
    hash = 1;
    if (strcmp(mode, "pkcs1") == 0) {
        /* RS256 over CKM_RSA_PKCS: DigestInfo || SHA-256 */
        mech.mechanism = CKM_RSA_PKCS;
        memcpy(in, digestinfo, sizeof digestinfo);
        inlen = sizeof digestinfo + 32;
    } else if (strcmp(mode, "pss") == 0) {
        mech.mechanism = CKM_RSA_PKCS_PSS;
        mech.pParameter = &pss;
        mech.ulParameterLen = sizeof pss;
        inlen = 32;
    } else if (strcmp(mode, "sha256-pss") == 0) {
        /* the token hashes: the whole message goes in */
        mech.mechanism = CKM_SHA256_RSA_PKCS_PSS;
        mech.pParameter = &pss;
        mech.ulParameterLen = sizeof pss;
        hash = 0;
    } else if (strcmp(mode, "sha256-pkcs1") == 0) {
        mech.mechanism = CKM_SHA256_RSA_PKCS;
        hash = 0;
    } else {
        goto usage;
    }
    if (url != NULL && mech.mechanism != CKM_RSA_PKCS_PSS &&
        mech.mechanism != CKM_SHA256_RSA_PKCS_PSS)
        goto usage; /* the token floor signs PS256 */
    if ((h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL ||
        (getfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList")) == NULL) {
        fprintf(stderr, "floor: cannot load %s\n", argv[1]);
        return 1;
    }
    if ((rv = getfl(&f)) != CKR_OK)
        die("C_GetFunctionList", rv);
    tp[1] = now();
    memset(&ia, 0, sizeof ia);
    ia.flags = CKF_OS_LOCKING_OK;
    if ((rv = f->C_Initialize(&ia)) != CKR_OK)
        die("C_Initialize", rv);
    tp[2] = now();
    if ((rv = f->C_GetSlotList(CK_TRUE, slots, &nslots)) != CKR_OK)
        die("C_GetSlotList", rv);
    for (i = 0; i < nslots; i++) {
        char label[33];
        size_t l;

        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        memcpy(label, ti.label, 32);
        label[32] = '\0';
        for (l = 32; l > 0 && label[l - 1] == ' '; l--)
            label[l - 1] = '\0';
        if (strcmp(label, argv[2]) == 0)
            break;
    }
    if (i == nslots) {
        fprintf(stderr, "floor: no token %s\n", argv[2]);
        return 1;
    }
    if ((rv = f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s)) !=
        CKR_OK)
        die("C_OpenSession", rv);
    if ((pf = fopen(argv[4], "r")) == NULL ||
        fgets((char *)pin, sizeof pin, pf) == NULL)
        die("reading the PIN file", 0);
    fclose(pf);
    pinlen = strcspn((char *)pin, "\r\n");
    if ((rv = f->C_Login(s, CKU_USER, pin, pinlen)) != CKR_OK &&
        rv != CKR_USER_ALREADY_LOGGED_IN)
        die("C_Login", rv);
    memset(pin, 0, sizeof pin);
    tp[3] = now();
    tmpl[0].type = CKA_CLASS;
    tmpl[0].pValue = &cls;
    tmpl[0].ulValueLen = sizeof cls;
    tmpl[1].type = CKA_LABEL;
    tmpl[1].pValue = argv[3];
    tmpl[1].ulValueLen = strlen(argv[3]);
    if ((rv = f->C_FindObjectsInit(s, tmpl, 2)) != CKR_OK ||
        (rv = f->C_FindObjects(s, &key, 1, &found)) != CKR_OK ||
        (rv = f->C_FindObjectsFinal(s)) != CKR_OK || found != 1)
        die("finding the key", rv);
    tp[4] = now();

    if (url != NULL) {
        /* the signing input of a real assertion, as entrakey makes it */
        char hdr[256], pay[1024];
        unsigned char id[16];
        long t = (long)time(NULL);

        RAND_bytes(id, sizeof id);
        snprintf(hdr, sizeof hdr,
                 "{\"alg\":\"PS256\",\"typ\":\"JWT\",\"x5t#S256\":\"%s\"}",
                 x5t);
        snprintf(pay, sizeof pay,
                 "{\"aud\":\"%s\",\"iss\":\"%s\",\"sub\":\"%s\",\"jti\":"
                 "\"%02x%02x%02x%02x-%02x%02x-4%x%02x-%02x%02x-%02x%02x%02x%02x"
                 "%02x%02x\",\"nbf\":%ld,\"iat\":%ld,\"exp\":%ld}",
                 url, client, client, id[0], id[1], id[2], id[3], id[4], id[5],
                 id[6] & 15, id[7], (id[8] & 0x3f) | 0x80, id[9], id[10],
                 id[11], id[12], id[13], id[14], id[15], t, t, t + 600);
        jn = b64url(jwt, (const unsigned char *)hdr, strlen(hdr));
        jwt[jn++] = '.';
        jn += b64url(jwt + jn, (const unsigned char *)pay, strlen(pay));
        memcpy(msg, jwt, jn);
        msglen = jn;
    }
    t0 = 0;
    /* with N > 1, k = -1 is the untimed warm-up signature */
    for (k = n > 1 ? -1 : 0; k < n; k++) {
        unsigned char *dst = inlen == 32 ? in : in + sizeof digestinfo;

        if (k == 0)
            t0 = now();
        if (hash)
            SHA256(msg, msglen, dst);
        if ((rv = f->C_SignInit(s, &mech, key)) != CKR_OK)
            die("C_SignInit", rv);
        siglen = sizeof sig;
        if (hash)
            rv = f->C_Sign(s, in, inlen, sig, &siglen);
        else
            rv = f->C_Sign(s, msg, msglen, sig, &siglen);
        if (rv != CKR_OK)
            die("C_Sign", rv);
    }
    if (url != NULL) {
        jwt[jn++] = '.';
        jn += b64url(jwt + jn, sig, siglen);
        if (post(url, client, scope, ca, jwt) != 0)
            return 1;
    }
    tp[5] = now();
    if (n > 1)
        printf("%.1f signatures/s\n", (double)n / (tp[5] - t0));
    f->C_Logout(s);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    tp[6] = now();
    if (phases)
        fprintf(stderr,
                "floor: load %.3f initialize %.3f slots+login %.3f "
                "find %.3f sign%s %.3f finalize %.3f ms\n",
                (tp[1] - tp[0]) * 1e3, (tp[2] - tp[1]) * 1e3,
                (tp[3] - tp[2]) * 1e3, (tp[4] - tp[3]) * 1e3,
                url != NULL ? "+post" : "", (tp[5] - tp[4]) * 1e3,
                (tp[6] - tp[5]) * 1e3);
    return 0;
}
