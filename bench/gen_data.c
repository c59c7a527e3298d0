/* gen_data.c -- writes the end-to-end benchmark bodies: a 1M-element JSON
 * array of float64 normal(0,1) values printed with %.17g (S2) and a 256 MiB
 * raw little-endian float32 file of normal(0,1) values (S3). Fixed seed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/rng.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u; /* rng_xorshift64 */

static double uniform01(void)
{
    return rng_unit(rng_xorshift64(&rng_state));
}

static double normal01(void)
{
    return sqrt(-2.0 * log(uniform01())) * cos(6.283185307179586 * uniform01());
}

static int write_json(const char *path, size_t n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputc('[', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, i ? ",%.17g" : "%.17g", normal01());
    fputs("]\n", f);
    return fclose(f);
}

static int write_raw_f32(const char *path, size_t n)
{
    float buf[4096];
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    for (size_t done = 0; done < n; done += 4096) {
        for (size_t i = 0; i < 4096; i++)
            buf[i] = (float)normal01();
        fwrite(buf, sizeof buf[0], 4096, f);
    }
    return fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gen_data S2.json S3.f32\n");
        return 2;
    }
    if (write_json(argv[1], 1000000) != 0 || write_raw_f32(argv[2], (256u << 20) / 4) != 0) {
        perror("gen_data");
        return 1;
    }
    return 0;
}
