/* test_v2_oip.c -- compiles tests/support/oip.c (the infer bodies the real
 * clients send) into the integration tests, which link none of
 * tests/support's .c files (see the Makefile's INTEG_SRC). */
#include "tests/support/oip.c"
