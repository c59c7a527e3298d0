/* tracked.h -- the latest results recorded under a model name (?track=MODEL),
 * for dashboards: per (model, tensor) the norm, max |w|, count and non-finite
 * counts, per model the totals and the time of the last update.
 *
 * One store per process, shared by every worker thread behind a read-write
 * lock: requests that record take it to write, /metrics and /tracked to read.
 * Its size is bounded by the number of (model, tensor) series it may hold:
 * past the cap new series are dropped (and counted), existing ones still
 * update. */
#ifndef SERVER_TRACKED_H
#define SERVER_TRACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../api/result.h"
#include "../api/text.h"

/* A model name: 1..TRACKED_MODEL_MAX bytes of [A-Za-z0-9_.:/-]. */
#define TRACKED_MODEL_MAX 128

/* The default of --max-tracked-series. */
#define TRACKED_DEFAULT_MAX_SERIES 10000

/* Opaque: the store. */
struct tracked;

/* What tracked_record did with a result. */
enum tracked_outcome {
    TRACKED_ALL,     /* every series recorded: the answer says "tracked": true */
    TRACKED_PARTIAL, /* some series dropped by the cap: "tracked": "partial" */
    TRACKED_INVALID, /* the model name is not valid: nothing recorded */
};

/* A new, empty store that holds at most max_series (model, tensor) series
 * and as many models. Returns NULL when out of memory. Free it with
 * tracked_free once no thread uses it. */
struct tracked *tracked_new(size_t max_series);

/* Frees t and everything it holds. t may be NULL. */
void tracked_free(struct tracked *t);

/* Whether the len bytes at name are a valid model name (see
 * TRACKED_MODEL_MAX). */
bool tracked_model_valid(const char *name, size_t len);

/* Records res, a successful computation's result, under the model name
 * (len bytes), at now_s (Unix time in seconds): each summed tensor's
 * figures replace that series' previous ones (a single tensor is the tensor
 * ""; tensors a checkpoint skipped are not recorded), the model's totals and
 * update time are replaced. Series the model had before and res lacks stay
 * as they were. A series that would be new past the cap, or that cannot be
 * allocated, is dropped and counted in l2d_tracked_series_dropped_total; a
 * model that cannot be created drops all of res's series. Thread-safe. */
enum tracked_outcome tracked_record(struct tracked *t, const char *model, size_t len,
                                    const struct api_result *res, int64_t now_s);

/* The number of series held and the number dropped so far. Thread-safe. */
size_t tracked_series(struct tracked *t);
uint64_t tracked_dropped(struct tracked *t);

/* Renders the store as Prometheus text exposition 0.0.4 families
 * (l2d_tracked_*, each with its # HELP and # TYPE), label values escaped
 * as the format says (invalid UTF-8 as U+FFFD). Returns a malloc'd,
 * NUL-terminated string the caller frees (length in *out_len), or NULL
 * when out of memory. Thread-safe. */
char *tracked_render_metrics(struct tracked *t, size_t *out_len);

/* Renders the store as the JSON of GET /tracked:
 * {"models": {MODEL: {"updated": SECONDS, "total": {...}, "tensors":
 * {NAME: {...}}}}}, each {...} holding norm, max_abs, count, nan_count and
 * inf_count; models in the order first recorded, tensors likewise; numbers
 * as api/shortest.h prints them. The same ownership and failure as
 * tracked_render_metrics. */
char *tracked_render_json(struct tracked *t, size_t *out_len);

#endif
