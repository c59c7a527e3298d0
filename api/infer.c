/* infer.c -- the inference protocol's models and outputs, from their lists
 * in infer.h, and the request's initial state. The body's decoder is
 * infer_decode.c. */
#include "infer.h"

#include <string.h>

static const char *const model_names[API_INFER_MODEL_COUNT] = {
#define API_INFER_MODEL_NAME(name, text) [name] = text,
    API_INFER_MODEL_LIST(API_INFER_MODEL_NAME)
#undef API_INFER_MODEL_NAME
};

static const struct {
    const char *name;
    const char *datatype;
    bool per_input;
} outputs[API_INFER_OUT_COUNT_] = {
#define API_INFER_OUTPUT_ROW(name, text, datatype, per_input) [name] = {text, datatype, per_input},
    API_INFER_OUTPUT_LIST(API_INFER_OUTPUT_ROW)
#undef API_INFER_OUTPUT_ROW
};

void api_infer_request_init(struct api_infer_request *r, enum api_infer_model model,
                            bool has_header_length, uint64_t header_length)
{
    /* Field by field: the id and track buffers (most of r) are read only
     * up to id_len and track_len. */
    r->model = model;
    r->has_header_length = has_header_length;
    r->header_length = header_length;
    r->has_id = false;
    r->id_len = 0;
    r->id[0] = '\0';
    r->has_scale = false;
    memset(&r->scale, 0, sizeof r->scale);
    r->count_nonfinite = false;
    r->binary_data_output = false;
    r->partial = false;
    r->track[0] = '\0';
    r->track_len = 0;
    r->tracked = API_INFER_TRACKED_NONE;
    r->n_wanted = 0;
    memset(r->wanted, 0, sizeof r->wanted);
}

const char *api_infer_model_name(enum api_infer_model model)
{
    return model_names[model];
}

bool api_infer_model_lookup(const char *name, size_t len, enum api_infer_model *out)
{
    for (int m = 0; m < API_INFER_MODEL_COUNT; m++) {
        if (strlen(model_names[m]) == len && memcmp(model_names[m], name, len) == 0) {
            *out = (enum api_infer_model)m;
            return true;
        }
    }
    return false;
}

const char *api_infer_output_name(enum api_infer_output out)
{
    return outputs[out].name;
}

const char *api_infer_output_datatype(enum api_infer_output out)
{
    return outputs[out].datatype;
}

bool api_infer_output_per_input(enum api_infer_output out)
{
    return outputs[out].per_input;
}
