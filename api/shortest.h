/* shortest.h -- doubles printed as Python's repr(float): the fewest
 * significant digits that read back to the same bits (0.1, 15.0, 1e-05,
 * 1e+16). */
#ifndef API_SHORTEST_H
#define API_SHORTEST_H

#include <stddef.h>

/* Bytes of the longest output, NUL included, with room to spare. */
#define API_SHORTEST_MAX 32

/* Writes x into buf (NUL-terminated) as Python's repr(x) would: the fewest
 * significant digits that strtod reads back to the same bits (the nearest
 * to x among those of that length), fixed notation for decimal exponents
 * -4..15 (always with a '.'), else d.ddde+XX. Returns the length. Non-finite
 * x gives repr's "inf", "-inf", "nan". Cannot fail. */
size_t api_shortest_repr(double x, char buf[API_SHORTEST_MAX]);

#endif
