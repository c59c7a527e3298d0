/* test_numparse_pow10.c -- api/numparse_pow10.h is exactly what
 * tools/gen-pow10.py prints (run with python3 from the repository root, as
 * `make unit` does), so the table cannot drift from its generator. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GENERATOR "tools/gen-pow10.py"
#define GENERATED "api/numparse_pow10.h"
#define TEXT_MAX (256 * 1024)

/* Reads f to its end into buf (cap bytes); the byte count. */
static size_t read_all(FILE *f, char *buf, size_t cap)
{
    size_t n = 0, got;

    while (n < cap && (got = fread(buf + n, 1, cap - n, f)) > 0)
        n += got;
    return n;
}

Test(numparse_pow10, table_is_the_generator_output)
{
    char *want = malloc(TEXT_MAX), *have = malloc(TEXT_MAX);
    cr_assert(want != NULL && have != NULL);

    FILE *p = popen("python3 " GENERATOR, "r");
    cr_assert(p != NULL, "cannot run python3 " GENERATOR);
    size_t want_len = read_all(p, want, TEXT_MAX);
    int status = pclose(p);
    cr_assert_eq(status, 0, "python3 " GENERATOR " failed (status %d): is python3 installed?",
                 status);

    FILE *f = fopen(GENERATED, "rb");
    cr_assert(f != NULL, "cannot open " GENERATED " (run the tests from the repository root)");
    size_t have_len = read_all(f, have, TEXT_MAX);
    fclose(f);

    cr_assert(want_len > 0 && want_len < TEXT_MAX);
    size_t i = 0;
    while (i < want_len && i < have_len && want[i] == have[i])
        i++;
    cr_assert(i == want_len && i == have_len,
              GENERATED " differs from " GENERATOR "'s output at byte %zu: regenerate it with "
                        "`python3 " GENERATOR " > " GENERATED "`",
              i);
    free(want);
    free(have);
}
