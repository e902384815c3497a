/* A template's page cache, warmed ahead (issue 16): a container prepared in
 * a template boot reads the program its clones will most likely run (the
 * template command's argv[0], looked up on its PATH as execvp does) and
 * that program's interpreters (a script's "#!", an ELF's PT_INTERP) before
 * the snapshot, with the shared libraries they need, so a clone's first
 * exec finds them in guest memory instead
 * of reading them from the layer disk through the VMM. Guest-only; the
 * files are the image's, so every header is bounds-checked.
 */
#ifndef NESTBOX_CONTAINER_PRELOAD_H
#define NESTBOX_CONTAINER_PRELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NB_PRELOAD_FILE_MAX (64u << 20) /* bytes read of one file, at most */
#define NB_PRELOAD_FILES_MAX 64u        /* files read, at most */
#define NB_PRELOAD_DEPTH 4u             /* levels: program, interpreter or library, ... */
#define NB_PRELOAD_NAME_MAX 256u        /* a library's name, its NUL included */

/* The interpreter the file open at fd names, into buf (size bytes, NUL
 * terminated): the path of a "#!" line, or an ELF64 PT_INTERP. False when
 * it names none, or one that is not an absolute path that fits. */
bool nb_preload_interp(int fd, char *buf, size_t size);

/* The shared libraries an ELF64 at fd needs (its DT_NEEDED names, in
 * order), each NUL-terminated, into names (max of them); how many. Names
 * that do not fit, or lie outside the file, are left out. */
unsigned nb_preload_needed(int fd, char (*names)[NB_PRELOAD_NAME_MAX], unsigned max);

/* Reads argv0 (a path, or a name looked up on path, a PATH value; NULL:
 * NB_DEFAULT_PATH's) and its interpreters into the page cache, each up to
 * NB_PRELOAD_FILE_MAX bytes, and the libraries each needs (looked for
 * in the default library directories), every file once, NB_PRELOAD_DEPTH
 * levels deep; paths resolve from the caller's root and working directory.
 * Returns the bytes read (0 when nothing was found: the exec will say
 * why, later). *files: how many files were read. */
uint64_t nb_preload_program(const char *argv0, const char *path, unsigned *files);

/* Reads the regular file at path (resolved as above) into the page cache,
 * up to NB_PRELOAD_FILE_MAX bytes. Returns the bytes read (0: none there). */
uint64_t nb_preload_file(const char *path);

#endif
