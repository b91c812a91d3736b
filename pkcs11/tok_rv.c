/* tok_rv.c: the one place that traces C_* calls and turns CK_RV values into
 * error codes and sentences that name the CKR_* constant. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tok.h"

#define R(x)                                                                   \
    {                                                                          \
        x, #x                                                                  \
    }

static const struct {
    CK_RV rv;
    const char *name;
} rv_names[] = {
    R(CKR_OK),
    R(CKR_CANCEL),
    R(CKR_HOST_MEMORY),
    R(CKR_SLOT_ID_INVALID),
    R(CKR_GENERAL_ERROR),
    R(CKR_FUNCTION_FAILED),
    R(CKR_ARGUMENTS_BAD),
    R(CKR_NO_EVENT),
    R(CKR_NEED_TO_CREATE_THREADS),
    R(CKR_CANT_LOCK),
    R(CKR_ATTRIBUTE_READ_ONLY),
    R(CKR_ATTRIBUTE_SENSITIVE),
    R(CKR_ATTRIBUTE_TYPE_INVALID),
    R(CKR_ATTRIBUTE_VALUE_INVALID),
    R(CKR_ACTION_PROHIBITED),
    R(CKR_DATA_INVALID),
    R(CKR_DATA_LEN_RANGE),
    R(CKR_DEVICE_ERROR),
    R(CKR_DEVICE_MEMORY),
    R(CKR_DEVICE_REMOVED),
    R(CKR_ENCRYPTED_DATA_INVALID),
    R(CKR_ENCRYPTED_DATA_LEN_RANGE),
    R(CKR_FUNCTION_CANCELED),
    R(CKR_FUNCTION_NOT_PARALLEL),
    R(CKR_FUNCTION_NOT_SUPPORTED),
    R(CKR_KEY_HANDLE_INVALID),
    R(CKR_KEY_SIZE_RANGE),
    R(CKR_KEY_TYPE_INCONSISTENT),
    R(CKR_KEY_NOT_NEEDED),
    R(CKR_KEY_CHANGED),
    R(CKR_KEY_NEEDED),
    R(CKR_KEY_INDIGESTIBLE),
    R(CKR_KEY_FUNCTION_NOT_PERMITTED),
    R(CKR_KEY_NOT_WRAPPABLE),
    R(CKR_KEY_UNEXTRACTABLE),
    R(CKR_MECHANISM_INVALID),
    R(CKR_MECHANISM_PARAM_INVALID),
    R(CKR_OBJECT_HANDLE_INVALID),
    R(CKR_OPERATION_ACTIVE),
    R(CKR_OPERATION_NOT_INITIALIZED),
    R(CKR_PIN_INCORRECT),
    R(CKR_PIN_INVALID),
    R(CKR_PIN_LEN_RANGE),
    R(CKR_PIN_EXPIRED),
    R(CKR_PIN_LOCKED),
    R(CKR_SESSION_CLOSED),
    R(CKR_SESSION_COUNT),
    R(CKR_SESSION_HANDLE_INVALID),
    R(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    R(CKR_SESSION_READ_ONLY),
    R(CKR_SESSION_EXISTS),
    R(CKR_SESSION_READ_ONLY_EXISTS),
    R(CKR_SESSION_READ_WRITE_SO_EXISTS),
    R(CKR_SIGNATURE_INVALID),
    R(CKR_SIGNATURE_LEN_RANGE),
    R(CKR_TEMPLATE_INCOMPLETE),
    R(CKR_TEMPLATE_INCONSISTENT),
    R(CKR_TOKEN_NOT_PRESENT),
    R(CKR_TOKEN_NOT_RECOGNIZED),
    R(CKR_TOKEN_WRITE_PROTECTED),
    R(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    R(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
    R(CKR_USER_ALREADY_LOGGED_IN),
    R(CKR_USER_NOT_LOGGED_IN),
    R(CKR_USER_PIN_NOT_INITIALIZED),
    R(CKR_USER_TYPE_INVALID),
    R(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    R(CKR_USER_TOO_MANY_TYPES),
    R(CKR_WRAPPED_KEY_INVALID),
    R(CKR_WRAPPED_KEY_LEN_RANGE),
    R(CKR_WRAPPING_KEY_HANDLE_INVALID),
    R(CKR_WRAPPING_KEY_SIZE_RANGE),
    R(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    R(CKR_RANDOM_SEED_NOT_SUPPORTED),
    R(CKR_RANDOM_NO_RNG),
    R(CKR_DOMAIN_PARAMS_INVALID),
    R(CKR_CURVE_NOT_SUPPORTED),
    R(CKR_BUFFER_TOO_SMALL),
    R(CKR_SAVED_STATE_INVALID),
    R(CKR_INFORMATION_SENSITIVE),
    R(CKR_STATE_UNSAVEABLE),
    R(CKR_CRYPTOKI_NOT_INITIALIZED),
    R(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    R(CKR_MUTEX_BAD),
    R(CKR_MUTEX_NOT_LOCKED),
    R(CKR_NEW_PIN_MODE),
    R(CKR_NEXT_OTP),
    R(CKR_EXCEEDED_MAX_ITERATIONS),
    R(CKR_FIPS_SELF_TEST_FAILED),
    R(CKR_LIBRARY_LOAD_FAILED),
    R(CKR_PIN_TOO_WEAK),
    R(CKR_PUBLIC_KEY_INVALID),
    R(CKR_FUNCTION_REJECTED),
};

const char *
tok_rv_name(CK_RV rv)
{
    size_t i;

    for (i = 0; i < sizeof rv_names / sizeof rv_names[0]; i++)
        if (rv_names[i].rv == rv)
            return rv_names[i].name;
    return NULL;
}

CK_RV
tok_traced(struct ek_ctx *ctx, const char *fn, CK_RV rv)
{
    const char *name;

    if (ek_log_enabled(ctx, EK_LOG_TRACE)) {
        name = tok_rv_name(rv);
        if (name != NULL)
            ek_log(ctx, EK_LOG_TRACE, "%s: %s", fn, name);
        else
            ek_log(ctx, EK_LOG_TRACE, "%s: 0x%lx", fn, (unsigned long)rv);
    }
    return rv;
}

ek_err
tok_rv_code(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
        return EK_OK;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_INVALID:
        return EK_ERR_PIN;
    case CKR_PIN_LOCKED:
        return EK_ERR_PIN_LOCKED;
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEVICE_ERROR:
        return EK_ERR_DEVICE;
    case CKR_MECHANISM_INVALID:
        return EK_ERR_MECHANISM;
    case CKR_FUNCTION_CANCELED:
        return EK_ERR_CANCELED;
    case CKR_HOST_MEMORY:
        return EK_ERR_INTERNAL;
    default:
        return EK_ERR_TOKEN;
    }
}

/* What to do, for the values where we can say more than "check the token". */
static const char *
advice(CK_RV rv)
{
    switch (rv) {
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEVICE_ERROR:
        return "reinsert or reconnect the token and run the command again";
    case CKR_PIN_INCORRECT:
        return "the PIN was wrong; entrakey does not retry (a wrong PIN in "
               "a loop locks a card); check the PIN source";
    case CKR_PIN_LEN_RANGE:
        return "the PIN is longer or shorter than the token accepts; check "
               "the PIN source (a stray space or newline?)";
    case CKR_PIN_INVALID:
        return "the PIN has characters the token does not accept; check "
               "the PIN source";
    case CKR_PIN_LOCKED:
        return "the user PIN is locked; unblock it with the SO PIN / PUK "
               "(on a YubiKey: ykman piv access unblock-pin; a TPM's "
               "lockout ends after its recovery time, or with "
               "tpm2_dictionarylockout --clear-lockout)";
    case CKR_PIN_EXPIRED:
        return "the PIN has expired; change it with the token's tool";
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
        return "the token does not support this mechanism (its mechanism "
               "list says what it can do)";
    case CKR_FUNCTION_CANCELED:
        return "the operation was canceled on the token (pinpad or touch); "
               "run the command again";
    case CKR_FUNCTION_NOT_SUPPORTED:
        return "the PKCS#11 module does not implement this function";
    case CKR_USER_NOT_LOGGED_IN:
        return "the token wants a login first; give a PIN source";
    case CKR_USER_PIN_NOT_INITIALIZED:
        return "the token's user PIN was never set; initialise it with the "
               "token's tool (e.g. softhsm2-util --init-token)";
    case CKR_USER_TYPE_INVALID:
    case CKR_USER_ANOTHER_ALREADY_LOGGED_IN:
        return "the token wants another kind of login (YubiKey keygen needs "
               "the management key: the SO PIN source)";
    case CKR_TOKEN_WRITE_PROTECTED:
    case CKR_SESSION_READ_ONLY:
        return "the token is write-protected";
    case CKR_DEVICE_MEMORY:
        return "the token is full; delete objects it no longer needs";
    case CKR_KEY_SIZE_RANGE:
        return "the token does not support this key size; try 2048 bits";
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
        return "the key is not an RSA signing key (CKA_SIGN)";
    case CKR_CRYPTOKI_NOT_INITIALIZED:
        return "the module was finalised by other code in this process";
    case CKR_SESSION_COUNT:
        return "the token has no free sessions; close other programs using "
               "it";
    default:
        return "check the token and its module; a trace of the PKCS#11 "
               "calls (the log at TRACE level) shows more";
    }
}

ek_err
tok_fail(struct ek_ctx *ctx, CK_RV rv, const char *fmt, ...)
{
    char what[1024];
    const char *name = tok_rv_name(rv);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (name != NULL)
        return ek_seterr(ctx, tok_rv_code(rv), "%s: %s (0x%lx); %s", what, name,
                         (unsigned long)rv, advice(rv));
    return ek_seterr(
        ctx, tok_rv_code(rv), "%s: CK_RV 0x%lx%s; %s", what, (unsigned long)rv,
        rv >= CKR_VENDOR_DEFINED ? " (vendor-defined)" : "", advice(rv));
}

const char *
tok_mech_name(CK_MECHANISM_TYPE m)
{
    switch (m) {
    case CKM_RSA_PKCS_KEY_PAIR_GEN:
        return "CKM_RSA_PKCS_KEY_PAIR_GEN";
    case CKM_RSA_PKCS:
        return "CKM_RSA_PKCS";
    case CKM_RSA_X_509:
        return "CKM_RSA_X_509";
    case CKM_RSA_PKCS_PSS:
        return "CKM_RSA_PKCS_PSS";
    case CKM_SHA256_RSA_PKCS:
        return "CKM_SHA256_RSA_PKCS";
    case CKM_SHA256_RSA_PKCS_PSS:
        return "CKM_SHA256_RSA_PKCS_PSS";
    default:
        return NULL;
    }
}
