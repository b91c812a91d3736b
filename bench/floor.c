/* floor.c: the least any tool can do for one assertion: load the module,
 * log in, find the key, and C_Sign one SHA-256 hash with the mechanism
 * entrakey uses. The benchmark's baseline; not part of the product.
 *
 * usage: floor [-p] MODULE TOKEN-LABEL KEY-LABEL PIN-FILE [MODE] [N]
 * MODE is the mechanism entrakey -v says it used: pss (CKM_RSA_PKCS_PSS
 * over a SHA-256 made here, the default), pkcs1 (CKM_RSA_PKCS over a
 * DigestInfo), sha256-pss (CKM_SHA256_RSA_PKCS_PSS) or sha256-pkcs1
 * (CKM_SHA256_RSA_PKCS), the last two over the whole message.
 * With N > 1 it signs once (untimed, as the throughput program does), then
 * loops C_SignInit/C_Sign N times in one session and prints signatures per
 * second (the raw rate). With -p it prints on stderr the milliseconds each
 * phase took (load, initialize, open+login, find, sign, finalize): the
 * floor of each phase of `entrakey -v assert`. */
#include <dlfcn.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>
#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST_PTR f;

static void
die(const char *what, CK_RV rv)
{
    fprintf(stderr, "floor: %s failed: 0x%lx\n", what, (unsigned long)rv);
    exit(1);
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
    unsigned char msg[600], in[51], sig[1024], pin[256];
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
    while ((c = getopt(argc, argv, "+p")) != -1) {
        if (c != 'p')
            goto usage;
        phases = 1;
    }
    argc -= optind - 1;
    argv += optind - 1;
    if (argc < 5) {
usage:
        fprintf(stderr, "usage: floor [-p] MODULE TOKEN KEY PIN-FILE "
                        "[MODE] [N]\n");
        return 2;
    }
    if (argc > 6 && (n = atol(argv[6])) < 1)
        goto usage;
    memset(msg, 'a', sizeof msg); /* about the size of a header.payload */
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

    t0 = 0;
    /* with N > 1, k = -1 is the untimed warm-up signature */
    for (k = n > 1 ? -1 : 0; k < n; k++) {
        unsigned char *dst = inlen == 32 ? in : in + sizeof digestinfo;

        if (k == 0)
            t0 = now();
        if (hash)
            SHA256(msg, sizeof msg, dst);
        if ((rv = f->C_SignInit(s, &mech, key)) != CKR_OK)
            die("C_SignInit", rv);
        siglen = sizeof sig;
        if (hash)
            rv = f->C_Sign(s, in, inlen, sig, &siglen);
        else
            rv = f->C_Sign(s, msg, sizeof msg, sig, &siglen);
        if (rv != CKR_OK)
            die("C_Sign", rv);
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
                "find %.3f sign %.3f finalize %.3f ms\n",
                (tp[1] - tp[0]) * 1e3, (tp[2] - tp[1]) * 1e3,
                (tp[3] - tp[2]) * 1e3, (tp[4] - tp[3]) * 1e3,
                (tp[5] - tp[4]) * 1e3, (tp[6] - tp[5]) * 1e3);
    return 0;
}
