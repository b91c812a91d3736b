/* ekfault.c: a PKCS#11 module for tests that wraps a real one (SoftHSM) and
 * makes chosen calls fail the way cards and HSMs do and SoftHSM never does.
 *
 * Environment:
 *   EKFAULT_MODULE  the real module (default /usr/lib/softhsm/libsofthsm2.so)
 *   EKFAULT_LOG     a file; one line is appended per call of this module,
 *                   "C_Login 0x000000a0" (name, result in hex), and
 *                   " injected" is added when a rule below decided the
 *                   result; C_SignInit lines end with the mechanism
 *                   ("mechanism=0x0000000d"), C_Login lines with the user
 *                   type ("user=1"). A PIN is never written.
 *   EKFAULT         the faults: rules separated by ';' (blanks ignored).
 *   EKFAULT_SERIAL_FILE  a file; while it exists, C_GetTokenInfo reports
 *                   its first line (up to 16 characters) as the token's
 *                   serial number: another token put in the same place.
 *
 * Rules:
 *   FUNC[@N[+]]=ACTION  the calls of C_FUNC that the rule catches: every one,
 *                   the Nth only (counted from 1 per process), or the Nth
 *                   and later ("@N+"). The first rule that catches a call
 *                   decides it, except sleep, which waits and lets the next
 *                   rule or the real module go on. C_Sign and C_SignFinal
 *                   length queries (no output buffer) are neither counted
 *                   nor caught by rules (an unplugged token fails them
 *                   too): "C_Sign@1" is the first C_Sign that signs.
 *     ACTION is one of
 *       CKR_NAME | 0xHEX   return it; the real module is not called
 *       after:CKR_NAME     call the real module, then return CKR_NAME
 *       unplug:CKR_NAME    call the real module and return its result; from
 *                          then on every call returns CKR_NAME (the token
 *                          is gone), except C_Initialize, C_Finalize,
 *                          C_GetInfo, C_GetFunctionList, C_CloseSession and
 *                          C_CloseAllSessions, which still reach the module
 *       sleep:MS           wait MS milliseconds first (a card waiting for a
 *                          touch); with EKFAULT_HOLD=PATH in the
 *                          environment, the wait also ends as soon as PATH
 *                          no longer exists, so a test can hold a call for
 *                          as long as it needs and release it
 *       abort              abort() (SIGABRT)
 *       segv               write through a NULL pointer (SIGSEGV)
 *   tokenflags=+F,-F    C_GetTokenInfo sets (+) or clears (-) token flags:
 *                   COUNT_LOW, FINAL_TRY, LOCKED (the user PIN flags), or
 *                   any CKF_ token flag by name. With +LOCKED, C_Login as
 *                   CKU_USER returns CKR_PIN_LOCKED without reaching the
 *                   module, as a locked card does.
 *   hide=CKM_A,CKM_B    the mechanisms are missing from C_GetMechanismList;
 *                   C_GetMechanismInfo and C_SignInit say
 *                   CKR_MECHANISM_INVALID for them.
 *   refuse=CKM_A,...    listed as usual, but C_SignInit says
 *                   CKR_MECHANISM_INVALID (a policy-restricted HSM).
 *   rejectattr=CKA_A,...  C_GenerateKeyPair and C_CreateObject return
 *                   CKR_ATTRIBUTE_TYPE_INVALID when a template holds one of
 *                   them (ykcs11 2.2.0 and CKA_EXTRACTABLE).
 *   privattr=CKA_A:TRUE,CKA_B:FALSE  C_GetAttributeValue reads these
 *                   CK_BBOOL attributes of private keys with the given value
 *                   (a key that reports CKA_EXTRACTABLE=TRUE).
 * Names are the PKCS#11 ones (CKR_, CKM_, CKA_, with the prefix); numbers
 * are accepted where a name is. A spec that does not parse is said on
 * stderr and C_GetFunctionList fails with CKR_GENERAL_ERROR, so a mistyped
 * test fails instead of testing nothing.
 *
 * Example: EKFAULT="tokenflags=+FINAL_TRY;C_Sign@1=CKR_DEVICE_REMOVED"
 *
 * A failure other than CKR_BUFFER_TOO_SMALL that this module puts on a
 * C_Sign ends the real module's operation too (as PKCS#11 says a failed
 * C_Sign does), and so does a C_SignInit whose success "after:" turns into
 * a failure; an injected CKR_BUFFER_TOO_SMALL sets the length the real
 * module needs and keeps the operation, as a module must.
 *
 * tests/fault/test_ekfault.sh checks this module with pkcs11-tool.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define EKF_EXPORT __attribute__((visibility("default")))
#define EKF_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define EKF_MAX_RULES 32
#define EKF_MAX_LIST 16

/* Every function of the PKCS#11 2.40 list: name, G (forwarded by the
 * generic wrapper) or S (a wrapper of its own below), parameters, arguments.
 * The order is the enum's, not the function list's. */
#define EKF_FUNCS(X)                                                           \
    X(C_Initialize, G, (CK_VOID_PTR a), (a))                                   \
    X(C_Finalize, G, (CK_VOID_PTR a), (a))                                     \
    X(C_GetInfo, G, (CK_INFO_PTR a), (a))                                      \
    X(C_GetFunctionList, S, (CK_FUNCTION_LIST_PTR_PTR a), (a))                 \
    X(C_GetSlotList, G, (CK_BBOOL a, CK_SLOT_ID_PTR b, CK_ULONG_PTR c),        \
      (a, b, c))                                                               \
    X(C_GetSlotInfo, G, (CK_SLOT_ID a, CK_SLOT_INFO_PTR b), (a, b))            \
    X(C_GetTokenInfo, S, (CK_SLOT_ID a, CK_TOKEN_INFO_PTR b), (a, b))          \
    X(C_GetMechanismList, S,                                                   \
      (CK_SLOT_ID a, CK_MECHANISM_TYPE_PTR b, CK_ULONG_PTR c), (a, b, c))      \
    X(C_GetMechanismInfo, S,                                                   \
      (CK_SLOT_ID a, CK_MECHANISM_TYPE b, CK_MECHANISM_INFO_PTR c), (a, b, c)) \
    X(C_InitToken, G,                                                          \
      (CK_SLOT_ID a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d),        \
      (a, b, c, d))                                                            \
    X(C_InitPIN, G, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c),      \
      (a, b, c))                                                               \
    X(C_SetPIN, G,                                                             \
      (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d,  \
       CK_ULONG e),                                                            \
      (a, b, c, d, e))                                                         \
    X(C_OpenSession, G,                                                        \
      (CK_SLOT_ID a, CK_FLAGS b, CK_VOID_PTR c, CK_NOTIFY d,                   \
       CK_SESSION_HANDLE_PTR e),                                               \
      (a, b, c, d, e))                                                         \
    X(C_CloseSession, G, (CK_SESSION_HANDLE a), (a))                           \
    X(C_CloseAllSessions, G, (CK_SLOT_ID a), (a))                              \
    X(C_GetSessionInfo, G, (CK_SESSION_HANDLE a, CK_SESSION_INFO_PTR b),       \
      (a, b))                                                                  \
    X(C_GetOperationState, G,                                                  \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c))         \
    X(C_SetOperationState, G,                                                  \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE d,     \
       CK_OBJECT_HANDLE e),                                                    \
      (a, b, c, d, e))                                                         \
    X(C_Login, S,                                                              \
      (CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d),    \
      (a, b, c, d))                                                            \
    X(C_Logout, G, (CK_SESSION_HANDLE a), (a))                                 \
    X(C_CreateObject, S,                                                       \
      (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c,                    \
       CK_OBJECT_HANDLE_PTR d),                                                \
      (a, b, c, d))                                                            \
    X(C_CopyObject, G,                                                         \
      (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c,            \
       CK_ULONG d, CK_OBJECT_HANDLE_PTR e),                                    \
      (a, b, c, d, e))                                                         \
    X(C_DestroyObject, G, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b))   \
    X(C_GetObjectSize, G,                                                      \
      (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG_PTR c), (a, b, c))    \
    X(C_GetAttributeValue, S,                                                  \
      (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c,            \
       CK_ULONG d),                                                            \
      (a, b, c, d))                                                            \
    X(C_SetAttributeValue, G,                                                  \
      (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c,            \
       CK_ULONG d),                                                            \
      (a, b, c, d))                                                            \
    X(C_FindObjectsInit, G,                                                    \
      (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c), (a, b, c))        \
    X(C_FindObjects, G,                                                        \
      (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c,                \
       CK_ULONG_PTR d),                                                        \
      (a, b, c, d))                                                            \
    X(C_FindObjectsFinal, G, (CK_SESSION_HANDLE a), (a))                       \
    X(C_EncryptInit, G,                                                        \
      (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c),           \
      (a, b, c))                                                               \
    X(C_Encrypt, G,                                                            \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG_PTR e),                                                        \
      (a, b, c, d, e))                                                         \
    X(C_EncryptUpdate, G,                                                      \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG_PTR e),                                                        \
      (a, b, c, d, e))                                                         \
    X(C_EncryptFinal, G, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), \
      (a, b, c))                                                               \
    X(C_DecryptInit, G,                                                        \
      (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c),           \
      (a, b, c))                                                               \
    X(C_Decrypt, G,                                                            \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG_PTR e),                                                        \
      (a, b, c, d, e))                                                         \
    X(C_DecryptUpdate, G,                                                      \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG_PTR e),                                                        \
      (a, b, c, d, e))                                                         \
    X(C_DecryptFinal, G, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), \
      (a, b, c))                                                               \
    X(C_DigestInit, G, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b), (a, b))      \
    X(C_Digest, G,                                                             \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG_PTR e),                                                        \
      (a, b, c, d, e))                                                         \
    X(C_DigestUpdate, G, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c),     \
      (a, b, c))                                                               \
    X(C_DigestKey, G, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b))       \
    X(C_DigestFinal, G, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c),  \
      (a, b, c))                                                               \
    X(C_SignInit, S,                                                           \
      (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c),           \
      (a, b, c))                                                               \
    X(C_Sign, S,                                                               \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG_PTR e),                                                        \
      (a, b, c, d, e))                                                         \
    X(C_SignUpdate, G, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c),       \
      (a, b, c))                                                               \
    X(C_SignFinal, S, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c),    \
      (a, b, c))                                                               \
    X(C_SignRecoverInit, G,                                                    \
      (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c),           \
      (a, b, c))                                                               \
    X(C_SignRecover, G,                                                        \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG_PTR e),                                                        \
      (a, b, c, d, e))                                                         \
    X(C_VerifyInit, G,                                                         \
      (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c),           \
      (a, b, c))                                                               \
    X(C_Verify, G,                                                             \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG e),                                                            \
      (a, b, c, d, e))                                                         \
    X(C_VerifyUpdate, G, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c),     \
      (a, b, c))                                                               \
    X(C_VerifyFinal, G, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c),      \
      (a, b, c))                                                               \
    X(C_VerifyRecoverInit, G,                                                  \
      (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c),           \
      (a, b, c))                                                               \
    X(C_VerifyRecover, G,                                                      \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG_PTR e),                                                        \
      (a, b, c, d, e))                                                         \
    X(C_DigestEncryptUpdate, G,                                                \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG_PTR e),                                                        \
      (a, b, c, d, e))                                                         \
    X(C_DecryptDigestUpdate, G,                                                \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG_PTR e),                                                        \
      (a, b, c, d, e))                                                         \
    X(C_SignEncryptUpdate, G,                                                  \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG_PTR e),                                                        \
      (a, b, c, d, e))                                                         \
    X(C_DecryptVerifyUpdate, G,                                                \
      (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,          \
       CK_ULONG_PTR e),                                                        \
      (a, b, c, d, e))                                                         \
    X(C_GenerateKey, G,                                                        \
      (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c,            \
       CK_ULONG d, CK_OBJECT_HANDLE_PTR e),                                    \
      (a, b, c, d, e))                                                         \
    X(C_GenerateKeyPair, S,                                                    \
      (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c,            \
       CK_ULONG d, CK_ATTRIBUTE_PTR e, CK_ULONG f, CK_OBJECT_HANDLE_PTR g,     \
       CK_OBJECT_HANDLE_PTR h),                                                \
      (a, b, c, d, e, f, g, h))                                                \
    X(C_WrapKey, G,                                                            \
      (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c,            \
       CK_OBJECT_HANDLE d, CK_BYTE_PTR e, CK_ULONG_PTR f),                     \
      (a, b, c, d, e, f))                                                      \
    X(C_UnwrapKey, G,                                                          \
      (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c,            \
       CK_BYTE_PTR d, CK_ULONG e, CK_ATTRIBUTE_PTR f, CK_ULONG g,              \
       CK_OBJECT_HANDLE_PTR h),                                                \
      (a, b, c, d, e, f, g, h))                                                \
    X(C_DeriveKey, G,                                                          \
      (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c,            \
       CK_ATTRIBUTE_PTR d, CK_ULONG e, CK_OBJECT_HANDLE_PTR f),                \
      (a, b, c, d, e, f))                                                      \
    X(C_SeedRandom, G, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c),       \
      (a, b, c))                                                               \
    X(C_GenerateRandom, G, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c),   \
      (a, b, c))                                                               \
    X(C_GetFunctionStatus, G, (CK_SESSION_HANDLE a), (a))                      \
    X(C_CancelFunction, G, (CK_SESSION_HANDLE a), (a))                         \
    X(C_WaitForSlotEvent, G, (CK_FLAGS a, CK_SLOT_ID_PTR b, CK_VOID_PTR c),    \
      (a, b, c))

enum ekf_fn {
#define EKF_ENUM(name, kind, params, args) FN_##name,
    EKF_FUNCS(EKF_ENUM)
#undef EKF_ENUM
        FN_COUNT
};

static const char *const fn_names[FN_COUNT] = {
#define EKF_NAME(name, kind, params, args) #name,
    EKF_FUNCS(EKF_NAME)
#undef EKF_NAME
};

/* ------------------------------------------------------------ name tables */

struct ekf_name {
    const char *name;
    unsigned long value;
};
#define N(x)                                                                   \
    {                                                                          \
#x, x                                                                  \
    }

static const struct ekf_name rv_names[] = {
    N(CKR_OK),
    N(CKR_CANCEL),
    N(CKR_HOST_MEMORY),
    N(CKR_SLOT_ID_INVALID),
    N(CKR_GENERAL_ERROR),
    N(CKR_FUNCTION_FAILED),
    N(CKR_ARGUMENTS_BAD),
    N(CKR_NO_EVENT),
    N(CKR_NEED_TO_CREATE_THREADS),
    N(CKR_CANT_LOCK),
    N(CKR_ATTRIBUTE_READ_ONLY),
    N(CKR_ATTRIBUTE_SENSITIVE),
    N(CKR_ATTRIBUTE_TYPE_INVALID),
    N(CKR_ATTRIBUTE_VALUE_INVALID),
    N(CKR_ACTION_PROHIBITED),
    N(CKR_DATA_INVALID),
    N(CKR_DATA_LEN_RANGE),
    N(CKR_DEVICE_ERROR),
    N(CKR_DEVICE_MEMORY),
    N(CKR_DEVICE_REMOVED),
    N(CKR_ENCRYPTED_DATA_INVALID),
    N(CKR_ENCRYPTED_DATA_LEN_RANGE),
    N(CKR_FUNCTION_CANCELED),
    N(CKR_FUNCTION_NOT_PARALLEL),
    N(CKR_FUNCTION_NOT_SUPPORTED),
    N(CKR_KEY_HANDLE_INVALID),
    N(CKR_KEY_SIZE_RANGE),
    N(CKR_KEY_TYPE_INCONSISTENT),
    N(CKR_KEY_NOT_NEEDED),
    N(CKR_KEY_CHANGED),
    N(CKR_KEY_NEEDED),
    N(CKR_KEY_INDIGESTIBLE),
    N(CKR_KEY_FUNCTION_NOT_PERMITTED),
    N(CKR_KEY_NOT_WRAPPABLE),
    N(CKR_KEY_UNEXTRACTABLE),
    N(CKR_MECHANISM_INVALID),
    N(CKR_MECHANISM_PARAM_INVALID),
    N(CKR_OBJECT_HANDLE_INVALID),
    N(CKR_OPERATION_ACTIVE),
    N(CKR_OPERATION_NOT_INITIALIZED),
    N(CKR_PIN_INCORRECT),
    N(CKR_PIN_INVALID),
    N(CKR_PIN_LEN_RANGE),
    N(CKR_PIN_EXPIRED),
    N(CKR_PIN_LOCKED),
    N(CKR_SESSION_CLOSED),
    N(CKR_SESSION_COUNT),
    N(CKR_SESSION_HANDLE_INVALID),
    N(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    N(CKR_SESSION_READ_ONLY),
    N(CKR_SESSION_EXISTS),
    N(CKR_SESSION_READ_ONLY_EXISTS),
    N(CKR_SESSION_READ_WRITE_SO_EXISTS),
    N(CKR_SIGNATURE_INVALID),
    N(CKR_SIGNATURE_LEN_RANGE),
    N(CKR_TEMPLATE_INCOMPLETE),
    N(CKR_TEMPLATE_INCONSISTENT),
    N(CKR_TOKEN_NOT_PRESENT),
    N(CKR_TOKEN_NOT_RECOGNIZED),
    N(CKR_TOKEN_WRITE_PROTECTED),
    N(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    N(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
    N(CKR_USER_ALREADY_LOGGED_IN),
    N(CKR_USER_NOT_LOGGED_IN),
    N(CKR_USER_PIN_NOT_INITIALIZED),
    N(CKR_USER_TYPE_INVALID),
    N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    N(CKR_USER_TOO_MANY_TYPES),
    N(CKR_WRAPPED_KEY_INVALID),
    N(CKR_WRAPPED_KEY_LEN_RANGE),
    N(CKR_WRAPPING_KEY_HANDLE_INVALID),
    N(CKR_WRAPPING_KEY_SIZE_RANGE),
    N(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    N(CKR_RANDOM_SEED_NOT_SUPPORTED),
    N(CKR_RANDOM_NO_RNG),
    N(CKR_DOMAIN_PARAMS_INVALID),
    N(CKR_CURVE_NOT_SUPPORTED),
    N(CKR_BUFFER_TOO_SMALL),
    N(CKR_SAVED_STATE_INVALID),
    N(CKR_INFORMATION_SENSITIVE),
    N(CKR_STATE_UNSAVEABLE),
    N(CKR_CRYPTOKI_NOT_INITIALIZED),
    N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    N(CKR_MUTEX_BAD),
    N(CKR_MUTEX_NOT_LOCKED),
    N(CKR_NEW_PIN_MODE),
    N(CKR_NEXT_OTP),
    N(CKR_EXCEEDED_MAX_ITERATIONS),
    N(CKR_FIPS_SELF_TEST_FAILED),
    N(CKR_LIBRARY_LOAD_FAILED),
    N(CKR_PIN_TOO_WEAK),
    N(CKR_PUBLIC_KEY_INVALID),
    N(CKR_FUNCTION_REJECTED),
    {NULL, 0},
};

static const struct ekf_name mech_names[] = {
    N(CKM_RSA_PKCS_KEY_PAIR_GEN),
    N(CKM_RSA_PKCS),
    N(CKM_RSA_X_509),
    N(CKM_RSA_PKCS_PSS),
    N(CKM_RSA_PKCS_OAEP),
    N(CKM_SHA1_RSA_PKCS),
    N(CKM_SHA224_RSA_PKCS),
    N(CKM_SHA256_RSA_PKCS),
    N(CKM_SHA384_RSA_PKCS),
    N(CKM_SHA512_RSA_PKCS),
    N(CKM_SHA1_RSA_PKCS_PSS),
    N(CKM_SHA224_RSA_PKCS_PSS),
    N(CKM_SHA256_RSA_PKCS_PSS),
    N(CKM_SHA384_RSA_PKCS_PSS),
    N(CKM_SHA512_RSA_PKCS_PSS),
    N(CKM_SHA_1),
    N(CKM_SHA256),
    N(CKM_SHA384),
    N(CKM_SHA512),
    N(CKM_EC_KEY_PAIR_GEN),
    N(CKM_ECDSA),
    {NULL, 0},
};

static const struct ekf_name attr_names[] = {
    N(CKA_CLASS),
    N(CKA_TOKEN),
    N(CKA_PRIVATE),
    N(CKA_LABEL),
    N(CKA_VALUE),
    N(CKA_CERTIFICATE_TYPE),
    N(CKA_ISSUER),
    N(CKA_SERIAL_NUMBER),
    N(CKA_TRUSTED),
    N(CKA_HASH_OF_SUBJECT_PUBLIC_KEY),
    N(CKA_NAME_HASH_ALGORITHM),
    N(CKA_KEY_TYPE),
    N(CKA_SUBJECT),
    N(CKA_ID),
    N(CKA_SENSITIVE),
    N(CKA_ENCRYPT),
    N(CKA_DECRYPT),
    N(CKA_WRAP),
    N(CKA_UNWRAP),
    N(CKA_SIGN),
    N(CKA_SIGN_RECOVER),
    N(CKA_VERIFY),
    N(CKA_VERIFY_RECOVER),
    N(CKA_DERIVE),
    N(CKA_START_DATE),
    N(CKA_END_DATE),
    N(CKA_MODULUS),
    N(CKA_MODULUS_BITS),
    N(CKA_PUBLIC_EXPONENT),
    N(CKA_EXTRACTABLE),
    N(CKA_LOCAL),
    N(CKA_NEVER_EXTRACTABLE),
    N(CKA_ALWAYS_SENSITIVE),
    N(CKA_MODIFIABLE),
    N(CKA_COPYABLE),
    N(CKA_DESTROYABLE),
    N(CKA_ALWAYS_AUTHENTICATE),
    N(CKA_WRAP_WITH_TRUSTED),
    {NULL, 0},
};

/* Token flags; the user PIN ones also by their short names. */
static const struct ekf_name flag_names[] = {
    {"COUNT_LOW", CKF_USER_PIN_COUNT_LOW},
    {"FINAL_TRY", CKF_USER_PIN_FINAL_TRY},
    {"LOCKED", CKF_USER_PIN_LOCKED},
    N(CKF_RNG),
    N(CKF_WRITE_PROTECTED),
    N(CKF_LOGIN_REQUIRED),
    N(CKF_USER_PIN_INITIALIZED),
    N(CKF_RESTORE_KEY_NOT_NEEDED),
    N(CKF_CLOCK_ON_TOKEN),
    N(CKF_PROTECTED_AUTHENTICATION_PATH),
    N(CKF_DUAL_CRYPTO_OPERATIONS),
    N(CKF_TOKEN_INITIALIZED),
    N(CKF_SECONDARY_AUTHENTICATION),
    N(CKF_USER_PIN_COUNT_LOW),
    N(CKF_USER_PIN_FINAL_TRY),
    N(CKF_USER_PIN_LOCKED),
    N(CKF_USER_PIN_TO_BE_CHANGED),
    N(CKF_SO_PIN_COUNT_LOW),
    N(CKF_SO_PIN_FINAL_TRY),
    N(CKF_SO_PIN_LOCKED),
    N(CKF_SO_PIN_TO_BE_CHANGED),
    {NULL, 0},
};
#undef N

/* ------------------------------------------------------------------ state */

enum ekf_act {
    ACT_RETURN,
    ACT_AFTER,
    ACT_UNPLUG,
    ACT_SLEEP,
    ACT_ABORT,
    ACT_SEGV,
};

struct ekf_rule {
    enum ekf_fn fn;
    unsigned long nth; /* 0: every call */
    int and_later;     /* "@N+" */
    enum ekf_act act;
    CK_RV rv;         /* ACT_RETURN, ACT_AFTER, ACT_UNPLUG */
    unsigned long ms; /* ACT_SLEEP */
};

struct ekf_list {
    unsigned long v[EKF_MAX_LIST];
    CK_BBOOL b[EKF_MAX_LIST]; /* privattr values */
    size_t n;
};

static struct {
    struct ekf_rule rules[EKF_MAX_RULES];
    size_t nrules;
    CK_FLAGS flags_set, flags_clear;
    struct ekf_list hide, refuse, rejectattr, privattr;
} spec;

static CK_FUNCTION_LIST *real; /* the wrapped module's list */
static CK_FUNCTION_LIST ours;  /* what C_GetFunctionList hands out */
static int loaded;             /* 1 ok, -1 failed, 0 not yet */
static int log_fd = -1;
static atomic_ulong calls[FN_COUNT];
static atomic_int unplugged;
static atomic_ulong unplug_rv;

/* ---------------------------------------------------------------- parsing */

static int
lookup(const struct ekf_name *t, const char *s, unsigned long *out)
{
    char *end = NULL;

    for (; t->name != NULL; t++) {
        if (strcmp(t->name, s) == 0) {
            *out = t->value;
            return 0;
        }
    }
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *out = strtoul(s, &end, 0);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

static int
parse_fn(const char *s, enum ekf_fn *fn)
{
    int i;

    for (i = 0; i < FN_COUNT; i++) {
        if (strcmp(fn_names[i], s) == 0) {
            *fn = (enum ekf_fn)i;
            return 0;
        }
    }
    return -1;
}

/* Removes blanks around s in place; returns s. */
static char *
trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

static int
parse_list(char *val, const struct ekf_name *t, struct ekf_list *l,
           int with_bool)
{
    char *save = NULL, *item, *colon;

    for (item = strtok_r(val, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        item = trim(item);
        if (l->n == EKF_MAX_LIST)
            return -1;
        colon = strchr(item, ':');
        if (with_bool) {
            if (colon == NULL)
                return -1;
            *colon++ = '\0';
            if (strcasecmp(colon, "TRUE") == 0 || strcmp(colon, "1") == 0)
                l->b[l->n] = CK_TRUE;
            else if (strcasecmp(colon, "FALSE") == 0 || strcmp(colon, "0") == 0)
                l->b[l->n] = CK_FALSE;
            else
                return -1;
        } else if (colon != NULL) {
            return -1;
        }
        if (lookup(t, item, &l->v[l->n]) != 0)
            return -1;
        l->n++;
    }
    return 0;
}

static int
parse_flags(char *val)
{
    char *save = NULL, *item;
    unsigned long f;
    int set;

    for (item = strtok_r(val, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        item = trim(item);
        if (*item != '+' && *item != '-')
            return -1;
        set = *item++ == '+';
        if (lookup(flag_names, item, &f) != 0)
            return -1;
        if (set)
            spec.flags_set |= f;
        else
            spec.flags_clear |= f;
    }
    return 0;
}

static int
parse_action(const char *s, struct ekf_rule *r)
{
    unsigned long v;
    char *end = NULL;

    if (strcmp(s, "abort") == 0) {
        r->act = ACT_ABORT;
        return 0;
    }
    if (strcmp(s, "segv") == 0) {
        r->act = ACT_SEGV;
        return 0;
    }
    if (strncmp(s, "sleep:", 6) == 0) {
        errno = 0;
        r->ms = strtoul(s + 6, &end, 10);
        r->act = ACT_SLEEP;
        return errno != 0 || end == s + 6 || *end != '\0' ? -1 : 0;
    }
    r->act = ACT_RETURN;
    if (strncmp(s, "after:", 6) == 0) {
        r->act = ACT_AFTER;
        s += 6;
    } else if (strncmp(s, "unplug:", 7) == 0) {
        r->act = ACT_UNPLUG;
        s += 7;
    }
    if (lookup(rv_names, s, &v) != 0)
        return -1;
    r->rv = v;
    return 0;
}

/* FUNC[@N[+]]=ACTION */
static int
parse_rule(char *key, char *val)
{
    struct ekf_rule *r;
    char *at, *end = NULL;

    if (spec.nrules == EKF_MAX_RULES)
        return -1;
    r = &spec.rules[spec.nrules];
    memset(r, 0, sizeof *r);
    at = strchr(key, '@');
    if (at != NULL) {
        *at++ = '\0';
        errno = 0;
        r->nth = strtoul(at, &end, 10);
        if (errno != 0 || end == at || r->nth == 0)
            return -1;
        if (*end == '+') {
            r->and_later = 1;
            end++;
        }
        if (*end != '\0')
            return -1;
    }
    if (parse_fn(key, &r->fn) != 0 || parse_action(val, r) != 0)
        return -1;
    spec.nrules++;
    return 0;
}

static int
parse_spec(const char *text)
{
    char *copy, *save = NULL, *item, *eq, *key, *val;
    int r = -1;

    if ((copy = strdup(text)) == NULL)
        return -1;
    for (item = strtok_r(copy, ";", &save); item != NULL;
         item = strtok_r(NULL, ";", &save)) {
        item = trim(item);
        if (*item == '\0')
            continue;
        if ((eq = strchr(item, '=')) == NULL) {
            fprintf(stderr, "ekfault: EKFAULT: '%s' has no '='\n", item);
            goto out;
        }
        *eq = '\0';
        key = trim(item);
        val = trim(eq + 1);
        if (strcmp(key, "tokenflags") == 0)
            r = parse_flags(val);
        else if (strcmp(key, "hide") == 0)
            r = parse_list(val, mech_names, &spec.hide, 0);
        else if (strcmp(key, "refuse") == 0)
            r = parse_list(val, mech_names, &spec.refuse, 0);
        else if (strcmp(key, "rejectattr") == 0)
            r = parse_list(val, attr_names, &spec.rejectattr, 0);
        else if (strcmp(key, "privattr") == 0)
            r = parse_list(val, attr_names, &spec.privattr, 1);
        else
            r = parse_rule(key, val);
        if (r != 0) {
            fprintf(stderr,
                    "ekfault: EKFAULT: cannot parse the rule for "
                    "'%s' (see the top of tests/fault/ekfault.c)\n",
                    key);
            goto out;
        }
    }
    r = 0;
out:
    free(copy);
    return r;
}

/* ------------------------------------------------------------ the engine */

static void
log_call(enum ekf_fn fn, CK_RV rv, const char *note, const char *extra)
{
    char line[128];
    int n;

    if (log_fd < 0)
        return;
    n = snprintf(line, sizeof line, "%s 0x%08lx%s%s%s%s\n", fn_names[fn], rv,
                 note != NULL ? " " : "", note != NULL ? note : "",
                 extra != NULL ? " " : "", extra != NULL ? extra : "");
    if (n > 0 && (size_t)n < sizeof line && write(log_fd, line, (size_t)n) < 0)
        return; /* a test log that cannot be written is not the test's fault */
}

static void
sleep_ms(unsigned long ms)
{
    const char *hold = getenv("EKFAULT_HOLD");
    struct timespec ts;
    unsigned long step;

    while (ms > 0) {
        if (hold != NULL && *hold != '\0' && access(hold, F_OK) != 0)
            return;
        step = hold != NULL && ms > 20 ? 20 : ms;
        ts.tv_sec = (time_t)(step / 1000);
        ts.tv_nsec = (long)(step % 1000) * 1000000L;
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        ms -= step;
    }
}

/* A NULL write, as a broken module makes one; not caught by the sanitizers
 * of an instrumented build (their report would replace the signal). */
__attribute__((noinline, no_sanitize("undefined", "address"))) static void
write_null(void)
{
    volatile int *volatile nowhere = NULL;

    *nowhere = 1;
}

static int
unplug_exempt(enum ekf_fn fn)
{
    return fn == FN_C_Initialize || fn == FN_C_Finalize || fn == FN_C_GetInfo ||
           fn == FN_C_GetFunctionList || fn == FN_C_CloseSession ||
           fn == FN_C_CloseAllSessions;
}

/* What a wrapper does with one call. */
struct ekf_verdict {
    int forward; /* call the real module */
    int replace; /* return rv instead of the module's result */
    int unplug;  /* after the call, the token is gone */
    CK_RV rv;
};

static struct ekf_verdict
ekf_enter(enum ekf_fn fn, int counted)
{
    struct ekf_verdict v = {1, 0, 0, CKR_OK};
    const struct ekf_rule *r;
    unsigned long n;
    size_t i;

    if (atomic_load(&unplugged) && !unplug_exempt(fn)) {
        v.forward = 0;
        v.replace = 1;
        v.rv = atomic_load(&unplug_rv);
        return v;
    }
    if (!counted)
        return v;
    n = atomic_fetch_add(&calls[fn], 1) + 1;
    for (i = 0; i < spec.nrules; i++) {
        r = &spec.rules[i];
        if (r->fn != fn ||
            (r->nth != 0 && n != r->nth && !(r->and_later && n > r->nth)))
            continue;
        switch (r->act) {
        case ACT_SLEEP:
            sleep_ms(r->ms);
            continue;
        case ACT_ABORT:
            log_call(fn, CKR_GENERAL_ERROR, "abort", NULL);
            abort();
        case ACT_SEGV:
            log_call(fn, CKR_GENERAL_ERROR, "segv", NULL);
            write_null();
            abort(); /* not reached */
        case ACT_RETURN:
            v.forward = 0;
            v.replace = 1;
            v.rv = r->rv;
            return v;
        case ACT_AFTER:
            v.replace = 1;
            v.rv = r->rv;
            return v;
        case ACT_UNPLUG:
            v.unplug = 1;
            v.rv = r->rv;
            return v;
        }
    }
    return v;
}

/* A wrapper's way out: the result, logged (with extra, if not NULL). */
static CK_RV
ekf_leave_x(enum ekf_fn fn, const struct ekf_verdict *v, CK_RV rv,
            const char *extra)
{
    if (v->replace)
        rv = v->rv;
    if (v->unplug) {
        atomic_store(&unplug_rv, v->rv);
        atomic_store(&unplugged, 1);
    }
    log_call(fn, rv, v->replace ? "injected" : NULL, extra);
    return rv;
}

static CK_RV
ekf_leave(enum ekf_fn fn, const struct ekf_verdict *v, CK_RV rv)
{
    return ekf_leave_x(fn, v, rv, NULL);
}

static int
in_list(const struct ekf_list *l, unsigned long v)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        if (l->v[i] == v)
            return 1;
    return 0;
}

static int
template_rejected(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_ULONG i;

    for (i = 0; t != NULL && i < n; i++)
        if (in_list(&spec.rejectattr, t[i].type))
            return 1;
    return 0;
}

/* Ends the real module's sign operation on a session (a failed C_Sign ends
 * it in PKCS#11; the module never saw our failure). Whatever the result,
 * the operation is over: the buffer fits any RSA key up to 8192 bits. */
static void
finish_sign(CK_SESSION_HANDLE h)
{
    unsigned char data[32], sig[1024];
    CK_ULONG len = sizeof sig;

    memset(data, 0, sizeof data);
    (void)real->C_Sign(h, data, sizeof data, sig, &len);
    memset(sig, 0, sizeof sig);
}

/* ------------------------------------------------------------ the wrappers */

#define EKF_WRAP_S(name, params, args)
#define EKF_WRAP_G(name, params, args)                                         \
    static CK_RV w_##name params                                               \
    {                                                                          \
        struct ekf_verdict v = ekf_enter(FN_##name, 1);                        \
        CK_RV rv = CKR_OK;                                                     \
        if (v.forward)                                                         \
            rv = real->name args;                                              \
        return ekf_leave(FN_##name, &v, rv);                                   \
    }
#define EKF_WRAP(name, kind, params, args) EKF_WRAP_##kind(name, params, args)
EKF_FUNCS(EKF_WRAP)
#undef EKF_WRAP

/* EKFAULT_SERIAL_FILE: the serial number of "another token". */
static void
ekf_serial(CK_TOKEN_INFO_PTR info)
{
    const char *path = getenv("EKFAULT_SERIAL_FILE");
    char line[32];
    FILE *f;
    size_t n;

    if (path == NULL || (f = fopen(path, "r")) == NULL)
        return;
    if (fgets(line, sizeof line, f) != NULL) {
        n = strcspn(line, "\r\n");
        if (n > sizeof info->serialNumber)
            n = sizeof info->serialNumber;
        memset(info->serialNumber, ' ', sizeof info->serialNumber);
        memcpy(info->serialNumber, line, n);
    }
    fclose(f);
}

static CK_RV
w_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    struct ekf_verdict v = ekf_enter(FN_C_GetTokenInfo, 1);
    CK_RV rv = CKR_OK;

    if (v.forward) {
        rv = real->C_GetTokenInfo(slot, info);
        if (rv == CKR_OK && info != NULL) {
            info->flags = (info->flags | spec.flags_set) & ~spec.flags_clear;
            ekf_serial(info);
        }
    }
    return ekf_leave(FN_C_GetTokenInfo, &v, rv);
}

static CK_RV
w_C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list,
                     CK_ULONG_PTR count)
{
    struct ekf_verdict v = ekf_enter(FN_C_GetMechanismList, 1);
    CK_MECHANISM_TYPE *all = NULL;
    CK_ULONG n = 0, i, kept = 0;
    CK_RV rv = CKR_OK;

    if (!v.forward)
        goto out;
    if (spec.hide.n == 0 || count == NULL) {
        rv = real->C_GetMechanismList(slot, list, count);
        goto out;
    }
    rv = real->C_GetMechanismList(slot, NULL, &n);
    if (rv != CKR_OK)
        goto out;
    if ((all = calloc(n + 1, sizeof *all)) == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    rv = real->C_GetMechanismList(slot, all, &n);
    if (rv != CKR_OK)
        goto out;
    for (i = 0; i < n; i++)
        if (!in_list(&spec.hide, all[i]))
            all[kept++] = all[i];
    if (list != NULL && *count < kept)
        rv = CKR_BUFFER_TOO_SMALL;
    else if (list != NULL)
        memcpy(list, all, kept * sizeof *all);
    *count = kept;
out:
    free(all);
    return ekf_leave(FN_C_GetMechanismList, &v, rv);
}

static CK_RV
w_C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                     CK_MECHANISM_INFO_PTR info)
{
    struct ekf_verdict v = ekf_enter(FN_C_GetMechanismInfo, 1);
    CK_RV rv = CKR_OK;

    if (v.forward && in_list(&spec.hide, type)) {
        v.replace = 1;
        v.rv = CKR_MECHANISM_INVALID;
    } else if (v.forward) {
        rv = real->C_GetMechanismInfo(slot, type, info);
    }
    return ekf_leave(FN_C_GetMechanismInfo, &v, rv);
}

static CK_RV
w_C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE who, CK_UTF8CHAR_PTR pin,
          CK_ULONG len)
{
    struct ekf_verdict v = ekf_enter(FN_C_Login, 1);
    char user[32];
    CK_RV rv = CKR_OK;

    snprintf(user, sizeof user, "user=%lu", who);
    if (v.forward && who == CKU_USER &&
        (spec.flags_set & CKF_USER_PIN_LOCKED) != 0) {
        v.replace = 1; /* a locked card refuses any PIN */
        v.rv = CKR_PIN_LOCKED;
    } else if (v.forward) {
        rv = real->C_Login(h, who, pin, len);
    }
    return ekf_leave_x(FN_C_Login, &v, rv, user);
}

static CK_RV
w_C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                 CK_OBJECT_HANDLE_PTR obj)
{
    struct ekf_verdict v = ekf_enter(FN_C_CreateObject, 1);
    CK_RV rv = CKR_OK;

    if (v.forward && template_rejected(t, n)) {
        v.replace = 1;
        v.rv = CKR_ATTRIBUTE_TYPE_INVALID;
    } else if (v.forward) {
        rv = real->C_CreateObject(h, t, n, obj);
    }
    return ekf_leave(FN_C_CreateObject, &v, rv);
}

static CK_RV
w_C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                    CK_ATTRIBUTE_PTR pub, CK_ULONG npub, CK_ATTRIBUTE_PTR priv,
                    CK_ULONG npriv, CK_OBJECT_HANDLE_PTR hpub,
                    CK_OBJECT_HANDLE_PTR hpriv)
{
    struct ekf_verdict v = ekf_enter(FN_C_GenerateKeyPair, 1);
    CK_RV rv = CKR_OK;

    if (v.forward &&
        (template_rejected(pub, npub) || template_rejected(priv, npriv))) {
        v.replace = 1;
        v.rv = CKR_ATTRIBUTE_TYPE_INVALID;
    } else if (v.forward) {
        rv = real->C_GenerateKeyPair(h, m, pub, npub, priv, npriv, hpub, hpriv);
    }
    return ekf_leave(FN_C_GenerateKeyPair, &v, rv);
}

static CK_RV
w_C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                      CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    struct ekf_verdict v = ekf_enter(FN_C_GetAttributeValue, 1);
    CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
    CK_ATTRIBUTE ca = {CKA_CLASS, &cls, sizeof cls};
    CK_RV rv = CKR_OK;
    CK_ULONG i;
    size_t j;

    if (!v.forward)
        goto out;
    rv = real->C_GetAttributeValue(h, obj, t, n);
    if (spec.privattr.n == 0 || t == NULL ||
        real->C_GetAttributeValue(h, obj, &ca, 1) != CKR_OK ||
        cls != CKO_PRIVATE_KEY)
        goto out;
    for (i = 0; i < n; i++) {
        for (j = 0; j < spec.privattr.n; j++) {
            if (t[i].type != spec.privattr.v[j])
                continue;
            if (t[i].pValue != NULL && t[i].ulValueLen >= sizeof(CK_BBOOL))
                *(CK_BBOOL *)t[i].pValue = spec.privattr.b[j];
            t[i].ulValueLen = sizeof(CK_BBOOL);
        }
    }
out:
    return ekf_leave(FN_C_GetAttributeValue, &v, rv);
}

static CK_RV
w_C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
    struct ekf_verdict v = ekf_enter(FN_C_SignInit, 1);
    char mech[32] = "mechanism=none";
    CK_RV rv = CKR_OK;

    if (m != NULL)
        snprintf(mech, sizeof mech, "mechanism=0x%08lx", m->mechanism);

    if (v.forward && m != NULL &&
        (in_list(&spec.hide, m->mechanism) ||
         in_list(&spec.refuse, m->mechanism))) {
        v.replace = 1;
        v.rv = CKR_MECHANISM_INVALID;
    } else if (v.forward) {
        rv = real->C_SignInit(h, m, key);
        /* the caller is told it failed: no operation may stay behind */
        if (rv == CKR_OK && v.replace && v.rv != CKR_OK)
            finish_sign(h);
    }
    return ekf_leave_x(FN_C_SignInit, &v, rv, mech);
}

static CK_RV
w_C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
         CK_ULONG_PTR siglen)
{
    /* a length query is not a signature: not counted, not caught */
    struct ekf_verdict v = ekf_enter(FN_C_Sign, sig != NULL);
    CK_ULONG need = 0;
    CK_RV rv = CKR_OK;

    if (v.forward) {
        rv = real->C_Sign(h, data, len, sig, siglen);
    } else if (v.rv == CKR_BUFFER_TOO_SMALL) {
        /* as a module must: the length needed, the operation kept */
        if (siglen != NULL && real->C_Sign(h, data, len, NULL, &need) == CKR_OK)
            *siglen = need;
    } else if (v.rv != CKR_OK) {
        finish_sign(h);
    }
    return ekf_leave(FN_C_Sign, &v, rv);
}

static CK_RV
w_C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR siglen)
{
    struct ekf_verdict v = ekf_enter(FN_C_SignFinal, sig != NULL);
    CK_RV rv = CKR_OK;

    if (v.forward)
        rv = real->C_SignFinal(h, sig, siglen);
    return ekf_leave(FN_C_SignFinal, &v, rv);
}

/* ------------------------------------------------------------ the entry */

static CK_RV w_C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

static int
load(void)
{
    CK_C_GetFunctionList get = NULL;
    const char *path, *text, *logpath;
    void *dl;
    CK_RV rv;

    text = getenv("EKFAULT");
    if (text != NULL && parse_spec(text) != 0)
        return -1;
    logpath = getenv("EKFAULT_LOG");
    if (logpath != NULL && *logpath != '\0') {
        log_fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (log_fd < 0) {
            fprintf(stderr, "ekfault: cannot open EKFAULT_LOG '%s': %s\n",
                    logpath, strerror(errno));
            return -1;
        }
    }
    path = getenv("EKFAULT_MODULE");
    if (path == NULL || *path == '\0')
        path = EKF_DEFAULT_MODULE;
    if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        fprintf(stderr, "ekfault: cannot load '%s': %s\n", path, dlerror());
        return -1;
    }
    /* POSIX's way from a data pointer to a function pointer */
    *(void **)&get = dlsym(dl, "C_GetFunctionList");
    if (get == NULL || (rv = get(&real)) != CKR_OK || real == NULL) {
        fprintf(stderr, "ekfault: '%s' has no usable C_GetFunctionList\n",
                path);
        return -1;
    }
    ours.version = real->version;
#define EKF_FILL(name, kind, params, args) ours.name = w_##name;
    EKF_FUNCS(EKF_FILL)
#undef EKF_FILL
    return 0;
}

/* C_GetFunctionList is in the list too: one function for both. */
static CK_RV
w_C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    struct ekf_verdict v;

    if (loaded == 0)
        loaded = load() == 0 ? 1 : -1;
    if (loaded < 0)
        return CKR_GENERAL_ERROR;
    v = ekf_enter(FN_C_GetFunctionList, 1);
    if (v.forward) {
        if (list == NULL)
            return ekf_leave(FN_C_GetFunctionList, &v, CKR_ARGUMENTS_BAD);
        *list = &ours;
    }
    return ekf_leave(FN_C_GetFunctionList, &v, CKR_OK);
}

EKF_EXPORT CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    return w_C_GetFunctionList(list);
}
