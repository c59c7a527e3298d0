/* test_generated_tables.c -- every generated table is exactly what its
 * generator prints (run with python3 from the repository root, as `make
 * unit` does), so no table can drift from its generator:
 * api/numparse_pow10.h (tools/gen-pow10.py) and api/shortest_pow5.h
 * (tools/gen-pow5.py). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX (256 * 1024)

/* Reads f to its end into buf (cap bytes); the byte count. */
static size_t read_all(FILE *f, char *buf, size_t cap)
{
    size_t n = 0, got;

    while (n < cap && (got = fread(buf + n, 1, cap - n, f)) > 0)
        n += got;
    return n;
}

/* Fails unless `python3 generator` prints exactly the file generated. */
static void check_table(const char *generator, const char *generated)
{
    char *want = malloc(TEXT_MAX), *have = malloc(TEXT_MAX);
    char cmd[256];
    cr_assert(want != NULL && have != NULL);

    snprintf(cmd, sizeof cmd, "python3 %s", generator);
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL, "cannot run %s", cmd);
    size_t want_len = read_all(p, want, TEXT_MAX);
    int status = pclose(p);
    cr_assert_eq(status, 0, "%s failed (status %d): is python3 installed?", cmd, status);

    FILE *f = fopen(generated, "rb");
    cr_assert(f != NULL, "cannot open %s (run the tests from the repository root)", generated);
    size_t have_len = read_all(f, have, TEXT_MAX);
    fclose(f);

    cr_assert(want_len > 0 && want_len < TEXT_MAX);
    size_t i = 0;
    while (i < want_len && i < have_len && want[i] == have[i])
        i++;
    cr_assert(i == want_len && i == have_len,
              "%s differs from %s's output at byte %zu: regenerate it with `%s > %s`", generated,
              generator, i, cmd, generated);
    free(want);
    free(have);
}

Test(generated_tables, numparse_pow10_is_the_generator_output)
{
    check_table("tools/gen-pow10.py", "api/numparse_pow10.h");
}

Test(generated_tables, shortest_pow5_is_the_generator_output)
{
    check_table("tools/gen-pow5.py", "api/shortest_pow5.h");
}
