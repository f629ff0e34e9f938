/*
 * The OpenSSL peer for curves `openssl speed` (3.0) does not offer, secp256k1 above all:
 * ECDSA sign and verify of a 32-byte digest with EVP_PKEY_sign / EVP_PKEY_verify on contexts
 * made once, as `openssl speed ecdsap256` does, timed by the wall clock.
 *
 *   ec_speed CURVE SECONDS      e.g. ec_speed secp256k1 1
 *
 * prints {"sign": OPS_PER_S, "verify": OPS_PER_S}. bench/run.sh builds it with
 * `cc -O2 ec_speed.c -lcrypto` against the system's libcrypto (the one `openssl speed` uses).
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "ec_speed: %s failed\n", what);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: ec_speed CURVE SECONDS\n");
        return 2;
    }
    const char *curve = argv[1];
    double seconds = atof(argv[2]);
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    if (key == NULL) die("EVP_PKEY_Q_keygen");
    unsigned char digest[32];
    memset(digest, 0x5a, sizeof digest);
    unsigned char sig[256], scratch[256];
    size_t siglen = sizeof sig;

    EVP_PKEY_CTX *sctx = EVP_PKEY_CTX_new(key, NULL);
    if (sctx == NULL || EVP_PKEY_sign_init(sctx) <= 0) die("EVP_PKEY_sign_init");
    EVP_PKEY_CTX *vctx = EVP_PKEY_CTX_new(key, NULL);
    if (vctx == NULL || EVP_PKEY_verify_init(vctx) <= 0) die("EVP_PKEY_verify_init");

    /* warm up, and a signature to verify */
    if (EVP_PKEY_sign(sctx, sig, &siglen, digest, sizeof digest) <= 0) die("EVP_PKEY_sign");
    if (EVP_PKEY_verify(vctx, sig, siglen, digest, sizeof digest) != 1) die("EVP_PKEY_verify");

    long n = 0;
    double start = now(), elapsed;
    do {
        size_t len = sizeof scratch;
        if (EVP_PKEY_sign(sctx, scratch, &len, digest, sizeof digest) <= 0) die("EVP_PKEY_sign");
        n++;
        elapsed = now() - start;
    } while (elapsed < seconds);
    double sign = (double)n / elapsed;

    n = 0;
    start = now();
    do {
        if (EVP_PKEY_verify(vctx, sig, siglen, digest, sizeof digest) != 1) die("EVP_PKEY_verify");
        n++;
        elapsed = now() - start;
    } while (elapsed < seconds);
    double verify = (double)n / elapsed;

    printf("{\"sign\": %.3f, \"verify\": %.3f}\n", sign, verify);
    EVP_PKEY_CTX_free(sctx);
    EVP_PKEY_CTX_free(vctx);
    EVP_PKEY_free(key);
    return 0;
}
