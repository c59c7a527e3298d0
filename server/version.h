/* version.h -- the l2d release version, reported by --version, /healthz and
 * the startup line. */
#ifndef SERVER_VERSION_H
#define SERVER_VERSION_H

#define L2D_VERSION "0.1.0"

#endif
