/* fuzz_merge.c -- libFuzzer harness of partials and /merge bodies.
 *
 * Input: the header of fuzz_common.h (dtype, cut points), then the body,
 * which is used three ways:
 *  - as elements of the dtype (NaN and infinities counted), split at the cut
 *    points: the partials of the parts, merged through a /merge body (flat,
 *    and named with the parts under two names), must give every bit of the
 *    whole's state: merge(split) == whole;
 *  - as a /merge body: decoded whole, in pieces and byte by byte, the three
 *    outcomes agree, and a named merge's total is the merge of its tensors;
 *  - as one partial: when it decodes, encoding the state again gives the
 *    same text (one spelling per state), and it merges with itself. */
#include "api/merge_decode.h"
#include "api/partial.h"
#include "fuzz_common.h"

/* merge(split) == whole for the body as elements. */
static void merge_split(const struct fuzz_input *in)
{
    size_t size = l2_dtype_size(in->dtype), n = in->len / size, at = 0;
    struct l2_accum whole, part, back;
    char text[API_PARTIAL_TEXT_MAX + 1];
    char *flat, *named;
    size_t fl = 0, nl = 0, cap = (FUZZ_MAX_CUTS + 1) * (API_PARTIAL_TEXT_MAX + 16) + 64;
    struct api_body *body;
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};
    bool first_a = true, first_b = true;
    char *b_items;
    size_t bl = 0;

    flat = malloc(cap);
    named = malloc(2 * cap);
    b_items = malloc(cap);
    FUZZ_CHECK(flat != NULL && named != NULL && b_items != NULL, "out of memory");
    l2_accum_init(&whole);
    l2_accum_feed_counting(&whole, in->dtype, in->body, n);
    fl += (size_t)snprintf(flat, cap, "{\"partials\": [");
    nl += (size_t)snprintf(named, 2 * cap, "{\"partials\": {\"a\": [");
    for (size_t c = 0; c <= in->ncuts; c++) {
        size_t end = c < in->ncuts ? in->cuts[c] / size : n;
        size_t len;

        if (end < at)
            end = at;
        l2_accum_init(&part);
        l2_accum_feed_counting(&part, in->dtype, in->body + at * size, end - at);
        len = api_partial_encode(&part, text);
        FUZZ_CHECK(api_partial_decode(text, len, &back, NULL) == API_OK, "own partial refused");
        fuzz_same_accum("partial round trip", &part, &back);
        fl += (size_t)snprintf(flat + fl, cap - fl, "%s\"%s\"", c ? ", " : "", text);
        if (c % 2 == 0) {
            nl += (size_t)snprintf(named + nl, 2 * cap - nl, "%s\"%s\"", first_a ? "" : ",", text);
            first_a = false;
        } else {
            bl += (size_t)snprintf(b_items + bl, cap - bl, "%s\"%s\"", first_b ? "" : ",", text);
            first_b = false;
        }
        at = end;
    }
    fl += (size_t)snprintf(flat + fl, cap - fl, "]}");
    b_items[bl] = '\0';
    nl += (size_t)snprintf(named + nl, 2 * cap - nl, "], \"b\": [%s]}}", b_items);

    FUZZ_CHECK(api_body_new(API_FORMAT_MERGE, &opts, API_ENCODING_IDENTITY, 1u << 30, &body,
                            NULL) == API_OK,
               "merge body");
    FUZZ_CHECK(api_body_feed(body, flat, fl) == API_OK && api_body_finish(body) == API_OK,
               "flat merge refused: %s", api_body_error(body)->detail);
    fuzz_same_accum("merge(split) vs whole", &whole, &api_body_result(body)->total);
    api_body_free(body);

    FUZZ_CHECK(api_body_new(API_FORMAT_MERGE, &opts, API_ENCODING_IDENTITY, 1u << 30, &body,
                            NULL) == API_OK,
               "merge body");
    FUZZ_CHECK(api_body_feed(body, named, nl) == API_OK && api_body_finish(body) == API_OK,
               "named merge refused: %s", api_body_error(body)->detail);
    fuzz_same_accum("named merge(split) vs whole", &whole, &api_body_result(body)->total);
    FUZZ_CHECK(api_body_result(body)->n_tensors == 2, "named merge: not two tensors");
    api_body_free(body);
    free(flat);
    free(named);
    free(b_items);
}

/* A successful merge: a named total is the merge of its tensors. */
static void merge_reference(const struct fuzz_input *in, enum api_status st,
                            const struct api_error *err, const struct api_result *res)
{
    struct l2_accum sum;

    (void)in;
    (void)err;
    if (st != API_OK)
        return;
    FUZZ_CHECK(res->merged, "a merge result not marked merged");
    if (!res->named)
        return;
    l2_accum_init(&sum);
    for (size_t i = 0; i < res->n_tensors; i++)
        FUZZ_CHECK(api_partial_merge(&sum, res->tensors[i].exact), "tensor counts overflow");
    fuzz_same_accum("named total vs its tensors", &sum, &res->total);
}

static void merge_same(const struct api_result *a, const struct api_result *b)
{
    for (size_t i = 0; i < a->n_tensors; i++)
        fuzz_same_accum("tensor exact", a->tensors[i].exact, b->tensors[i].exact);
}

static const struct fuzz_format merge_format = {"merge", API_FORMAT_MERGE, &api_merge_ops,
                                                merge_same, merge_reference};

/* The body as one partial. */
static void one_partial(const uint8_t *p, size_t len)
{
    struct l2_accum acc, twice;
    char text[API_PARTIAL_TEXT_MAX + 1];
    size_t n;

    if (api_partial_decode((const char *)p, len, &acc, NULL) != API_OK)
        return;
    n = api_partial_encode(&acc, text);
    FUZZ_CHECK(n == len && memcmp(text, p, len) == 0, "a partial with two spellings");
    twice = acc;
    if (api_partial_merge(&twice, &acc)) {
        n = api_partial_encode(&twice, text);
        FUZZ_CHECK(api_partial_decode(text, n, &acc, NULL) == API_OK,
                   "a merge of valid partials is refused");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in;

    one_partial(data, size);
    if (!fuzz_input_parse(data, size, &in))
        return 0;
    one_partial(in.body, in.len);
    merge_split(&in);
    fuzz_check_format(&merge_format, &in, (unsigned)data[0] >> 3);
    return 0;
}
