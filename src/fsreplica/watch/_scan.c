/*
 * fsreplica.watch._scan: the watcher's per-file system calls without Python's overheads.
 *
 * scan(): one directory of a polling snapshot in one call (below). is_regular(): the lstat the
 * inotify backend makes when it releases a path (at the end of the file).
 *
 * The polling backend's cost is per regular file: a name, an lstat and a comparison with the
 * previous poll. In Python each of those allocates (a DirEntry, a stat_result with float and
 * integer times, a tuple) and runs bytecode; here the directory is read and every regular file
 * lstat'ed (fstatat relative to the directory fd) with the GIL released, then the result is
 * built with one dictionary lookup per name and no allocation for a file that did not change:
 * its tuple from the previous poll is reused. The pure-Python version in polling.py returns the
 * same thing and is used where this module is not built.
 *
 * scan(dir_fd, old) -> (files, subdirs, fresh)
 *   dir_fd  an open directory fd (not closed, not moved: it is dup'ed for reading)
 *   old     {name: (inode, size, mtime_ns)} from the previous poll (not modified)
 *   files   {name: (inode, size, mtime_ns)} of the regular files now; a tuple of `old` when the
 *           file did not change (the same object)
 *   subdirs names of the subdirectories (not symlinks to directories)
 *   fresh   names in `files` that are new or changed (their tuple is not from `old`)
 * Names are decoded like os.scandir's (file system encoding, surrogateescape). An entry that
 * vanishes between the read and its lstat is left out, as the Python version does. OSError is
 * raised when the directory cannot be read.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <poll.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { KIND_FILE = 1, KIND_DIR = 2 };

typedef struct {
    size_t name;  /* offset of the NUL-terminated name in the name buffer */
    size_t len;
    int kind;
    unsigned long long ino;
    long long size;
    long long mtime_ns;
} Entry;

typedef struct {
    Entry *entries;
    size_t count, cap;
    char *names;
    size_t used, room;
} Listing;

static void listing_free(Listing *l) {
    free(l->entries);
    free(l->names);
}

/* Append one entry; 0 on success, -1 when out of memory. */
static int listing_add(Listing *l, const char *name, size_t len, const Entry *e) {
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        Entry *grown = realloc(l->entries, cap * sizeof(Entry));
        if (grown == NULL) return -1;
        l->entries = grown;
        l->cap = cap;
    }
    if (l->used + len + 1 > l->room) {
        size_t room = l->room ? l->room * 2 : 4096;
        while (room < l->used + len + 1) room *= 2;
        char *grown = realloc(l->names, room);
        if (grown == NULL) return -1;
        l->names = grown;
        l->room = room;
    }
    Entry *slot = &l->entries[l->count++];
    *slot = *e;
    slot->name = l->used;
    slot->len = len;
    memcpy(l->names + l->used, name, len + 1);
    l->used += len + 1;
    return 0;
}

/* Read the directory and lstat its regular files, without Python objects (GIL released).
 * Returns 0, or an errno value. */
static int read_listing(int dir_fd, Listing *l) {
    int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return errno;
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        int err = errno;
        close(fd);
        return err;
    }
    /* The dup shares the file offset: rewind so a reused fd is read from the start. */
    rewinddir(dir);
    int err = 0;
    for (;;) {
        errno = 0;
        struct dirent *d = readdir(dir);
        if (d == NULL) {
            err = errno;
            break;
        }
        const char *name = d->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
        Entry e = {0};
        unsigned char type = d->d_type;
        if (type == DT_DIR) {
            e.kind = KIND_DIR;
        } else if (type == DT_REG || type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue; /* vanished */
            if (S_ISREG(st.st_mode)) {
                e.kind = KIND_FILE;
                e.ino = (unsigned long long)st.st_ino;
                e.size = (long long)st.st_size;
                e.mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
            } else if (S_ISDIR(st.st_mode)) {
                e.kind = KIND_DIR;
            } else {
                continue;
            }
        } else {
            continue; /* symlinks, FIFOs, sockets, devices */
        }
        if (listing_add(l, name, strlen(name), &e) != 0) {
            err = ENOMEM;
            break;
        }
    }
    closedir(dir);
    return err;
}

/* True when `prev` is a 3-tuple of ints equal to the entry's signature. */
static int same_signature(PyObject *prev, const Entry *e) {
    if (!PyTuple_CheckExact(prev) || PyTuple_GET_SIZE(prev) != 3) return 0;
    unsigned long long ino = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(prev, 0));
    long long size = PyLong_AsLongLong(PyTuple_GET_ITEM(prev, 1));
    long long mtime = PyLong_AsLongLong(PyTuple_GET_ITEM(prev, 2));
    if (PyErr_Occurred()) {
        PyErr_Clear(); /* not comparable: treat as changed */
        return 0;
    }
    return ino == e->ino && size == e->size && mtime == e->mtime_ns;
}

static PyObject *build(const Listing *l, PyObject *old) {
    PyObject *files = PyDict_New();
    PyObject *subdirs = PyList_New(0);
    PyObject *fresh = PyList_New(0);
    if (files == NULL || subdirs == NULL || fresh == NULL) goto fail;
    for (size_t i = 0; i < l->count; i++) {
        const Entry *e = &l->entries[i];
        PyObject *name = PyUnicode_DecodeFSDefaultAndSize(l->names + e->name, (Py_ssize_t)e->len);
        if (name == NULL) goto fail;
        int rc;
        if (e->kind == KIND_DIR) {
            rc = PyList_Append(subdirs, name);
        } else {
            PyObject *prev = PyDict_GetItemWithError(old, name); /* borrowed */
            if (prev == NULL && PyErr_Occurred()) {
                Py_DECREF(name);
                goto fail;
            }
            if (prev != NULL && same_signature(prev, e)) {
                rc = PyDict_SetItem(files, name, prev);
            } else {
                PyObject *sig = Py_BuildValue("(KLL)", e->ino, e->size, e->mtime_ns);
                rc = sig == NULL ? -1 : PyDict_SetItem(files, name, sig);
                Py_XDECREF(sig);
                if (rc == 0) rc = PyList_Append(fresh, name);
            }
        }
        Py_DECREF(name);
        if (rc != 0) goto fail;
    }
    return Py_BuildValue("(NNN)", files, subdirs, fresh);
fail:
    Py_XDECREF(files);
    Py_XDECREF(subdirs);
    Py_XDECREF(fresh);
    return NULL;
}

static PyObject *scan(PyObject *module, PyObject *args) {
    int dir_fd;
    PyObject *old;
    if (!PyArg_ParseTuple(args, "iO!:scan", &dir_fd, &PyDict_Type, &old)) return NULL;
    Listing listing = {0};
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = read_listing(dir_fd, &listing);
    Py_END_ALLOW_THREADS
    if (err != 0) {
        listing_free(&listing);
        if (err == ENOMEM) return PyErr_NoMemory();
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *result = build(&listing, old);
    listing_free(&listing);
    return result;
}

/* is_regular(path) -> 1 regular file, 0 something else, -1 cannot lstat (gone, or no access).
 * The inotify backend asks this of every path it releases. The GIL is kept: the lstat of a path on
 * a local file system (the only kind inotify watches) takes well under a microsecond, while giving
 * the GIL up and taking it back makes the watcher thread queue behind the consumer's. */
static PyObject *is_regular(PyObject *module, PyObject *arg) {
    PyObject *bytes = NULL;
    if (!PyUnicode_FSConverter(arg, &bytes)) return NULL;
    struct stat st;
    int rc = lstat(PyBytes_AS_STRING(bytes), &st);
    Py_DECREF(bytes);
    return PyLong_FromLong(rc != 0 ? -1 : S_ISREG(st.st_mode) ? 1 : 0);
}

/* wait(inotify_fd, events, wake_fd, timeout_ms, bell_fd, ring, burst_until, linger_ms) -> bits
 * The inotify backend's sleep. With the GIL released, first add `ring` to the eventfd `bell_fd`
 * (the consumers sleeping on the channel), then poll the two fds (`events` for the inotify fd: 0
 * while reads are paused) for up to `timeout_ms` (-1: no limit). Waking the consumers only once
 * the GIL is free lets them take it at once: rung from Python, they wake while this thread still
 * holds it, sleep again on it, and preempt this thread on its way to poll().
 * Bits: 1 the inotify fd is ready, 2 the wake fd is, 4 the inotify fd woke it before
 * `burst_until` (CLOCK_MONOTONIC seconds, time.monotonic()'s clock): then it lingers up to
 * `linger_ms` more on the wake fd alone, so that more events gather for one read, in the same
 * call. EINTR returns 0. */
static PyObject *wait_ready(PyObject *module, PyObject *args) {
    int ifd, events, wfd, timeout, bell, linger;
    unsigned long long ring;
    double burst_until;
    if (!PyArg_ParseTuple(args, "iiiiiKdi:wait", &ifd, &events, &wfd, &timeout, &bell, &ring,
                          &burst_until, &linger))
        return NULL;
    struct pollfd fds[2] = {{ifd, (short)events, 0}, {wfd, POLLIN, 0}};
    int rc, bits, werr = 0;
    Py_BEGIN_ALLOW_THREADS
    if (ring > 0) {
        uint64_t value = ring;
        if (write(bell, &value, sizeof value) != (ssize_t)sizeof value) werr = errno;
    }
    rc = poll(fds, 2, timeout);
    bits = rc > 0 ? (fds[0].revents ? 1 : 0) | (fds[1].revents ? 2 : 0) : 0;
    if (bits == 1 && burst_until > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 < burst_until) {
            bits |= 4;
            if (linger > 0 && poll(&fds[1], 1, linger) > 0) bits |= 2;
        }
    }
    Py_END_ALLOW_THREADS
    if (werr != 0) {
        errno = werr;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (rc < 0) {
        if (errno == EINTR) return PyLong_FromLong(0);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLong(bits);
}

static PyMethodDef methods[] = {
    {"wait", wait_ready, METH_VARARGS,
     "wait(inotify_fd, events, wake_fd, timeout_ms, bell_fd, ring, burst_until, linger_ms)"
     " -> readiness bits."},
    {"is_regular", is_regular, METH_O,
     "is_regular(path) -> 1 regular file, 0 other, -1 cannot lstat; the GIL is kept."},
    {"scan", scan, METH_VARARGS,
     "scan(dir_fd, old) -> (files, subdirs, fresh): list a directory and sign its regular files."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "fsreplica.watch._scan",
    "One directory of a polling snapshot in one call (see polling.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }
