/* ce_version: the version of mod_ceinstances and ceadmin (one number for
 * the module, the CLI, the man page and the Debian package). */
#ifndef CE_VERSION_H
#define CE_VERSION_H

#define CE_VERSION "0.9.0"

#endif
