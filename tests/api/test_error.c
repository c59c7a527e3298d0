/* test_error.c -- struct api_error (api/error.c): the first error and the
 * first location of each kind win, NULL is accepted everywhere, and details
 * and pointers are truncated to their limits. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/error.h"

Test(error, init_clears)
{
    struct api_error err;

    memset(&err, 0x5a, sizeof err);
    api_error_init(&err);
    cr_assert_eq(err.status, API_OK);
    cr_assert_str_eq(err.detail, "");
    cr_assert_str_eq(err.pointer, "");
    cr_assert_not(err.has_pointer);
    cr_assert_eq(err.index, -1);
    cr_assert_eq(err.offset, -1);
    api_error_init(NULL); /* accepted */
}

Test(error, first_error_wins)
{
    struct api_error err;

    api_error_init(&err);
    cr_assert_eq(api_error_set(&err, API_INVALID_SCALE, "first %d", 1), API_INVALID_SCALE);
    api_error_at_offset(&err, 10);
    /* a later error returns its own status but changes nothing */
    cr_assert_eq(api_error_set(&err, API_INVALID_DTYPE, "second"), API_INVALID_DTYPE);
    api_error_at_offset(&err, 20);
    api_error_at_index(&err, 3);
    api_error_at_index(&err, 4);
    cr_assert_eq(err.status, API_INVALID_SCALE);
    cr_assert_str_eq(err.detail, "first 1");
    cr_assert_eq(err.offset, 10);
    cr_assert_eq(err.index, 3);
}

Test(error, set_ok_is_not_an_error)
{
    struct api_error err;

    api_error_init(&err);
    cr_assert_eq(api_error_set(&err, API_OK, "nothing"), API_OK);
    cr_assert_eq(err.status, API_OK);
    cr_assert_str_eq(err.detail, "");
    cr_assert_eq(api_error_set(&err, API_NOT_FOUND, "now"), API_NOT_FOUND);
    cr_assert_str_eq(err.detail, "now");
}

Test(error, null_err_returns_status)
{
    cr_assert_eq(api_error_set(NULL, API_INVALID_JSON, "x"), API_INVALID_JSON);
    api_error_at_offset(NULL, 1);
    api_error_at_index(NULL, 1);
    api_error_at_pointer(NULL, "/a", 2);
}

Test(error, detail_is_truncated)
{
    struct api_error err;
    char big[API_DETAIL_MAX * 2];

    memset(big, 'd', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    api_error_init(&err);
    api_error_set(&err, API_INVALID_JSON, "%s", big);
    cr_assert_eq(strlen(err.detail), API_DETAIL_MAX - 1);
}

Test(error, pointer_first_wins_and_truncates)
{
    struct api_error err;
    static char big[API_POINTER_MAX + 100];

    api_error_init(&err);
    api_error_set(&err, API_INVALID_TENSOR, "x");
    api_error_at_pointer(&err, "/a/0xyz", 4); /* len, not NUL, bounds it */
    api_error_at_pointer(&err, "/b", 2);
    cr_assert(err.has_pointer);
    cr_assert_str_eq(err.pointer, "/a/0");

    memset(big, '/', sizeof big);
    api_error_init(&err);
    api_error_set(&err, API_INVALID_TENSOR, "x");
    api_error_at_pointer(&err, big, sizeof big);
    cr_assert_eq(strlen(err.pointer), API_POINTER_MAX - 1);
}

Test(error, pointer_may_hold_nul_or_be_the_root)
{
    struct api_error err;

    api_error_init(&err);
    api_error_at_pointer(&err, "/a\0b", 4); /* a tensor name may hold U+0000 */
    cr_assert_eq(err.pointer_len, 4);
    cr_assert(memcmp(err.pointer, "/a\0b", 5) == 0);

    /* the root is the empty pointer, which is still a pointer */
    api_error_init(&err);
    api_error_at_pointer(&err, "", 0);
    cr_assert(err.has_pointer);
    cr_assert_eq(err.pointer_len, 0);
}
