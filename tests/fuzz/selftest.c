/*
 * selftest.c -- a target for testing the replay driver itself
 * (tests/fuzz/check_replay.sh): it aborts on an input that begins with
 * "abort", as a target does when an invariant breaks, and accepts any
 * other.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FUZZ_CHECK(!(size >= 5 && memcmp(data, "abort", 5) == 0));
    return 0;
}
